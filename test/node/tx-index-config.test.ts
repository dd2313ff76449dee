/**
 * `[tx_index] indexer`: CometBFT's key and values, our default "null" (no indexer), and the one
 * thing it decides: NodeInfo `other.tx_index` ("off" for "null", "on" otherwise), as peers see it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderConfigToml } from '../../node/config-template.js';
import { ErrConfigInvalid, ErrConfigUnknownKey } from '../../node/errors.js';
import { initHome } from '../../node/home.js';
import { configFilePath, loadConfig } from '../../node/load-config.js';
import { Node } from '../../node/node.js';
import { VirtualClock } from '../../p2p/clock.js';
import { NodeKey } from '../../p2p/node-key.js';
import { SeededRng } from '../../p2p/rng.js';
import { MemoryNetwork } from '../../p2p/transport/memory-transport.js';

let home: string;
const homes: string[] = [];
const nodes: Node[] = [];
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'sy-txindex-'));
  homes.push(home);
  mkdirSync(join(home, 'config'));
});
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function loadError(text: string): Error {
  writeFileSync(configFilePath(home), text);
  try {
    loadConfig(home);
  } catch (err) {
    return err as Error;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('[tx_index] indexer in config.toml', () => {
  it('the template writes it, commented, with the default "null"; no file means "null" too', () => {
    const text = renderConfigToml();
    const doc = parseToml(text) as Record<string, Record<string, unknown>>;
    expect(doc.tx_index).toEqual({ indexer: 'null' });
    const lines = text.split('\n');
    const at = lines.indexOf('indexer = "null"');
    expect(lines.lastIndexOf('[tx_index]', at)).toBeGreaterThan(0);
    expect(lines[at - 1]).toMatch(/^# .*tx_index/);
    expect(loadConfig(home).txIndex).toEqual({ indexer: 'null' });
  });

  it('accepts CometBFT\'s three values', () => {
    for (const indexer of ['null', 'kv', 'psql'] as const) {
      writeFileSync(configFilePath(home), renderConfigToml({ moniker: 'm', 'tx_index.indexer': indexer }));
      expect(loadConfig(home).txIndex.indexer).toBe(indexer);
    }
  });

  it('refuses anything else with one line naming tx_index.indexer and the accepted values', () => {
    for (const [text, shown] of [
      ['[tx_index]\nindexer = "none"\n', '"none"'],
      ['[tx_index]\nindexer = "KV"\n', '"KV"'],
      ['[tx_index]\nindexer = ""\n', '""'],
      ['[tx_index]\nindexer = 1\n', '1'],
    ] as const) {
      const err = loadError(text);
      expect(err).toBeInstanceOf(ErrConfigInvalid);
      expect(err.message.split('\n')).toHaveLength(1);
      expect(err.message).toContain(`tx_index.indexer = ${shown} is invalid: expected "null", "kv" or "psql"`);
      expect((err as ErrConfigInvalid).key).toBe('tx_index.indexer');
    }
    const unknown = loadError('[tx_index]\nindexer = "kv"\npsql-conn = ""\n');
    expect(unknown).toBeInstanceOf(ErrConfigUnknownKey);
    expect(unknown.message).toContain('tx_index.psql-conn');
  });
});

describe('NodeInfo other.tx_index follows the indexer', () => {
  async function pair(indexer: string | undefined) {
    const clock = new VirtualClock(1_700_000_000_000);
    const net = new MemoryNetwork({ clock });
    const make = (ip: string, values: Record<string, string | boolean>) => {
      const h = mkdtempSync(join(tmpdir(), 'sy-txindex-node-'));
      homes.push(h);
      initHome(h, { moniker: ip, 'p2p.laddr': `tcp://${ip}:26656`, 'p2p.addr_book_strict': false, 'rpc.laddr': '', ...values });
      const config = loadConfig(h);
      const node = new Node({ clock, rng: new SeededRng(3), transport: net.transport(ip) }, { config, nodeKey: NodeKey.load(config.nodeKeyFile) });
      nodes.push(node);
      return node;
    };
    const a = make('10.0.0.1', indexer === undefined ? {} : { 'tx_index.indexer': indexer });
    const b = make('10.0.0.2', {});
    await a.start();
    await b.start();
    await b.sw.dialPeerWithAddress(a.sw.netAddress());
    expect(await clock.runUntil(() => b.sw.peers.size === 1, 1000, 10)).toBe(true);
    return { ours: a.sw.nodeInfo().other.txIndex, seenByPeer: b.sw.peers.list()[0].nodeInfo.other.txIndex };
  }

  it('default ("null"): off', async () => {
    expect(await pair(undefined)).toEqual({ ours: 'off', seenByPeer: 'off' });
  });

  it('"kv": on', async () => {
    expect(await pair('kv')).toEqual({ ours: 'on', seenByPeer: 'on' });
  });

  it('"psql": on', async () => {
    expect(await pair('psql')).toEqual({ ours: 'on', seenByPeer: 'on' });
  });
});
