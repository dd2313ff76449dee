/**
 * The test-only `ephemeralKeyProvider` Switch option: unset (the default) every handshake draws a
 * fresh key; set, it is asked once per handshake, dialed or accepted, and its key is what goes
 * on the wire. Bad values fail fast.
 */
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../p2p/clock.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { ErrRejectedAuthFailure, ErrSwitchConfig } from '../../../p2p/switch-errors.js';
import { Switch, type SwitchOptions } from '../../../p2p/switch.js';
import { switchyard } from '../../../p2p/proto/gen/wire.js';
import { ScriptedTransport, hex, unhex } from '../../node/conversation-replay-helpers.js';
import { handshakeVector } from '../conn/secret-connection-helpers.js';
import { CHANNELS, RecordingReactor, keyFor } from './helpers.js';

const LOCAL = { ip: '10.0.0.1', port: 26656 };
const REMOTE = { ip: '10.0.0.2', port: 26656 };
const EPH_MSG_BYTES = 35;
const v = handshakeVector();

const switches: Switch[] = [];
afterEach(async () => {
  await Promise.all(switches.splice(0).map((s) => s.stop()));
});

interface Rig {
  sw: Switch;
  transport: ScriptedTransport;
  dialedEnds: Duplex[];
}

async function rig(options: Partial<SwitchOptions> = {}): Promise<Rig> {
  const clock = new VirtualClock();
  const dialedEnds: Duplex[] = [];
  const transport = new ScriptedTransport(LOCAL, { remote: REMOTE, onDial: (far) => dialedEnds.push(far) });
  const sw = new Switch({ transport, nodeKey: keyFor('hook'), clock }, { nodeInfo: { network: 'n', moniker: 'm' }, ...options });
  sw.addReactor('r', new RecordingReactor('r', CHANNELS));
  await sw.start();
  switches.push(sw);
  return { sw, transport, dialedEnds };
}

/** The first `n` bytes our Switch writes on a connection (the far end's readable side). */
function firstBytes(far: Duplex, n = EPH_MSG_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const onData = (c: Buffer): void => {
      parts.push(c);
      const all = Buffer.concat(parts);
      if (all.length >= n) {
        far.off('data', onData);
        resolve(all.subarray(0, n));
      }
    };
    far.on('data', onData);
    far.once('close', () => reject(new Error('closed before the ephemeral key message')));
  });
}

/** The X25519 public key inside a 35-byte ephemeral key message. */
function ephPubKey(msg: Buffer): string {
  expect(msg[0]).toBe(EPH_MSG_BYTES - 1);
  return hex(switchyard.p2p.BytesValue.decode(msg.subarray(1)).value!);
}

describe('ephemeralKeyProvider (tests and replays only)', () => {
  it('is not used unless set: every handshake, accepted or dialed, sends a fresh ephemeral key', async () => {
    const { sw, transport, dialedEnds } = await rig();
    const inbound = [transport.inject(REMOTE), transport.inject({ ...REMOTE, port: 40002 })];
    void sw.dialPeerWithAddress(new NetAddress(keyFor('other').id, REMOTE.ip, REMOTE.port)).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    const keys = await Promise.all([...inbound, ...dialedEnds].map((far) => firstBytes(far).then(ephPubKey)));
    expect(keys.length).toBe(3);
    expect(new Set(keys).size).toBe(3);
    for (const k of keys) {
      expect(k).not.toBe(v.side_A.ephemeral_x25519_public);
      expect(k).not.toBe(v.side_B.ephemeral_x25519_public);
    }
    for (const far of [...inbound, ...dialedEnds]) far.destroy();
  });

  it('when set, is called once per handshake and its key is the one on the wire', async () => {
    let calls = 0;
    const { sw, transport, dialedEnds } = await rig({
      ephemeralKeyProvider: () => {
        calls++;
        return unhex(calls === 1 ? v.side_A.ephemeral_x25519_private : v.side_B.ephemeral_x25519_private);
      },
    });
    const inbound = transport.inject(REMOTE);
    const first = await firstBytes(inbound);
    expect(calls).toBe(1);
    expect(hex(first)).toBe(v.side_A.wire_ephemeral_key_msg_length_delimited);
    void sw.dialPeerWithAddress(new NetAddress(keyFor('other').id, REMOTE.ip, REMOTE.port)).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    expect(dialedEnds.length).toBe(1);
    expect(hex(await firstBytes(dialedEnds[0]))).toBe(v.side_B.wire_ephemeral_key_msg_length_delimited);
    expect(calls).toBe(2);
    inbound.destroy();
    dialedEnds[0].destroy();
  });

  it('a key of the wrong size fails that upgrade only, as an auth failure caused by a RangeError', async () => {
    const { sw, transport } = await rig({ ephemeralKeyProvider: () => new Uint8Array(31) });
    const errors: unknown[] = [];
    sw.on('accept:error', (_remote, err) => errors.push(err));
    const far = transport.inject(REMOTE);
    const written: Buffer[] = [];
    far.on('data', (c: Buffer) => written.push(c));
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(ErrRejectedAuthFailure);
    expect((errors[0] as Error).cause).toBeInstanceOf(RangeError);
    expect(written.length).toBe(0);
    expect(sw.isRunning).toBe(true);
  });

  it('a value that is not a function is refused at construction, naming the option', () => {
    const make = (): Switch =>
      new Switch(
        { transport: new ScriptedTransport(LOCAL), nodeKey: keyFor('bad') },
        { nodeInfo: { network: 'n', moniker: 'm' }, ephemeralKeyProvider: unhex(v.side_A.ephemeral_x25519_private) as unknown as () => Uint8Array },
      );
    expect(make).toThrow(ErrSwitchConfig);
    expect(make).toThrow(/ephemeralKeyProvider/);
  });
});
