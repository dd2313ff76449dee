import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrNodeKeyMalformed, NodeKey } from '../../p2p/node-key.js';
import { ErrConfigInvalid } from '../../node/errors.js';
import { defaultHome, initHome } from '../../node/home.js';
import { loadConfig } from '../../node/load-config.js';

let root: string;
beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'sy-home-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('initHome', () => {
  it('creates config and key with the given values, then keeps both', () => {
    const home = join(root, 'h');
    const r = initHome(home, { moniker: 'alpha', 'p2p.seed_mode': true });
    expect(r).toMatchObject({ configWritten: true, nodeKeyWritten: true });
    expect(NodeKey.load(r.nodeKeyFile).id).toBe(r.nodeId);
    expect(statSync(r.nodeKeyFile).mode & 0o777).toBe(0o600);
    const c = loadConfig(home);
    expect(c.moniker).toBe('alpha');
    expect(c.p2p.seedMode).toBe(true);
    const configText = readFileSync(r.configFile, 'utf8');
    const again = initHome(home, { moniker: 'beta' });
    expect(again).toMatchObject({ configWritten: false, nodeKeyWritten: false, nodeId: r.nodeId });
    expect(readFileSync(r.configFile, 'utf8')).toBe(configText);
  });

  it('puts the key where an existing config says', () => {
    const home = join(root, 'h');
    mkdirSync(join(home, 'config'), { recursive: true });
    writeFileSync(join(home, 'config', 'config.toml'), 'node_key_file = "keys/mine.json"\n');
    const r = initHome(home);
    expect(r.nodeKeyFile).toBe(join(home, 'keys', 'mine.json'));
    expect(r.configWritten).toBe(false);
  });

  it('writes nothing when the existing config is invalid, or the existing key is malformed', () => {
    const home = join(root, 'h');
    mkdirSync(join(home, 'config'), { recursive: true });
    writeFileSync(join(home, 'config', 'config.toml'), '[p2p]\nsend_rate = -1\n');
    expect(() => initHome(home)).toThrow(ErrConfigInvalid);
    expect(() => readFileSync(join(home, 'config', 'node_key.json'))).toThrow();

    const home2 = join(root, 'h2');
    mkdirSync(join(home2, 'config'), { recursive: true });
    writeFileSync(join(home2, 'config', 'node_key.json'), 'garbage');
    expect(() => initHome(home2)).toThrow(ErrNodeKeyMalformed);
    expect(() => readFileSync(join(home2, 'config', 'config.toml'))).toThrow();
    expect(readFileSync(join(home2, 'config', 'node_key.json'), 'utf8')).toBe('garbage');
  });

  it('refuses bad values before writing', () => {
    const home = join(root, 'h');
    expect(() => initHome(home, { 'p2p.send_rate': -5 })).toThrow(/p2p\.send_rate = -5 is invalid/);
    expect(() => statSync(home)).toThrow();
  });

  it('defaultHome honours SWITCHYARD_HOME, else ~/.switchyard', () => {
    expect(defaultHome({ SWITCHYARD_HOME: '/x/y' })).toBe('/x/y');
    expect(defaultHome({})).toMatch(/\.switchyard$/);
  });
});
