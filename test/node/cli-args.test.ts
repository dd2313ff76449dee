import { describe, expect, it } from 'vitest';
import { ErrUsage, parseCli, usage } from '../../node/cli/args.js';
import { OVERRIDE_FLAGS } from '../../node/config-schema.js';

describe('parseCli', () => {
  it('parses commands, --home and CometBFT-named override flags', () => {
    const a = parseCli(['start', '--home', '/h', '--p2p.seeds', 'x', '--p2p.laddr=tcp://0.0.0.0:1', '--moniker', 'm', '--log_format', 'json']);
    expect(a).toEqual({ command: 'start', home: '/h', flags: { 'p2p.seeds': 'x', 'p2p.laddr': 'tcp://0.0.0.0:1', moniker: 'm', log_format: 'json' } });
  });

  it('offers every flag the issue names', () => {
    for (const f of ['p2p.laddr', 'p2p.external_address', 'p2p.seeds', 'p2p.persistent_peers', 'p2p.seed_mode', 'p2p.pex', 'p2p.private_peer_ids', 'p2p.unconditional_peer_ids', 'rpc.laddr', 'moniker', 'log_level', 'log_format', 'network']) {
      expect(OVERRIDE_FLAGS).toContain(f);
    }
  });

  it('treats a bare boolean flag as true and keeps explicit values', () => {
    expect(parseCli(['start', '--p2p.seed_mode']).flags).toEqual({ 'p2p.seed_mode': 'true' });
    expect(parseCli(['start', '--p2p.pex=false']).flags).toEqual({ 'p2p.pex': 'false' });
    expect(parseCli(['start', '--rpc.unsafe']).flags).toEqual({ 'rpc.unsafe': 'true' });
  });

  it('handles help and version forms', () => {
    expect(parseCli([]).command).toBe('help');
    expect(parseCli(['--help']).command).toBe('help');
    expect(parseCli(['--version']).command).toBe('version');
    expect(parseCli(['start', '--help'])).toMatchObject({ command: 'help', helpFor: 'start' });
    expect(parseCli(['help', 'init'])).toMatchObject({ command: 'help', helpFor: 'init' });
    expect(usage('start')).toContain('--p2p.seed_mode[=true|false]');
    expect(usage()).toContain('show-node-id');
  });

  it('rejects malformed command lines with a usage error', () => {
    const bad: Array<[string[], RegExp]> = [
      [['launch'], /unknown command "launch"; commands: init, start/],
      [['start', '--p2p.sedes', 'x'], /start: unknown flag --p2p\.sedes\. Flags: --home, --moniker/],
      [['show-node-id', '--p2p.seeds', 'x'], /show-node-id: unknown flag --p2p\.seeds/],
      [['start', 'extra'], /unexpected argument "extra"/],
      [['start', '--home'], /start: .*--home/],
      [['start', '--home', ''], /--home needs a directory/],
      [['help', 'nope'], /unknown command "nope"/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseCli(argv), argv.join(' ')).toThrow(ErrUsage);
      expect(() => parseCli(argv)).toThrow(message);
    }
  });
});
