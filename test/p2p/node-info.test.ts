import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrNetAddressLookupNeeded } from '../../p2p/net-address.js';
import {
  DEFAULT_PROTOCOL_VERSION,
  ErrNodeInfoDecode,
  ErrNodeInfoIncompatible,
  ErrNodeInfoInvalid,
  MAX_NODE_INFO_SIZE_BYTES,
  buildNodeInfo,
  checkNodeInfoCompatible,
  decodeNodeInfo,
  encodeNodeInfo,
  nodeInfoHasChannel,
  nodeInfoNetAddress,
  nodeInfoToJson,
  resolveNodeInfoNetAddress,
  validateNodeInfo,
  validateNodeInfoResolving,
  type NodeInfo,
} from '../../p2p/node-info.js';

const tables = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-test-tables.json', 'utf8'));
const ID = 'b7e361b509d8e8be425af6423f231af79bb3c30b';
const NON_ASCII = '¢§µ';

/** The base of CometBFT's TestNodeInfoValidate: valid as is. */
function baseInfo(): NodeInfo {
  return {
    protocolVersion: { p2p: 8, block: 11, app: 0 },
    id: ID,
    listenAddr: '127.0.0.1:26656',
    network: 'testing',
    version: '1.2.3-rc0-deadbeef',
    channels: Uint8Array.from({ length: 16 }, (_, i) => i),
    moniker: 'testing',
    other: { txIndex: 'on', rpcAddress: '127.0.0.1:26657' },
  };
}

/** Each case of the table, as a mutation of the base info. */
const validateMutations: Record<string, (i: NodeInfo) => void> = {
  '17 channels (0..16)': (i) => (i.channels = Uint8Array.from({ length: 17 }, (_, k) => k)),
  'duplicate channel id': (i) => (i.channels = Uint8Array.from([0, 1, 2, 3, 4, 1])),
  '5 distinct channels': (i) => (i.channels = Uint8Array.from([0, 1, 2, 3, 4])),
  "listen_addr 'not-an-address'": (i) => (i.listenAddr = 'not-an-address'),
  "listen_addr '0.0.0.0:26656'": (i) => (i.listenAddr = '0.0.0.0:26656'),
  'version non-ASCII': (i) => (i.version = NON_ASCII),
  "version '\\t'": (i) => (i.version = '\t'),
  "version '  ' (spaces only)": (i) => (i.version = '  '),
  "version ''": (i) => (i.version = ''),
  'moniker non-ASCII': (i) => (i.moniker = NON_ASCII),
  "moniker '\\t'": (i) => (i.moniker = '\t'),
  "moniker '  '": (i) => (i.moniker = '  '),
  "moniker ''": (i) => (i.moniker = ''),
  "moniker 'hey its me'": (i) => (i.moniker = 'hey its me'),
  'tx_index non-ASCII': (i) => (i.other.txIndex = NON_ASCII),
  "tx_index '\\t'": (i) => (i.other.txIndex = '\t'),
  "tx_index '  '": (i) => (i.other.txIndex = '  '),
  "tx_index ''": (i) => (i.other.txIndex = ''),
  "tx_index 'off'": (i) => (i.other.txIndex = 'off'),
  'rpc_address non-ASCII': (i) => (i.other.rpcAddress = NON_ASCII),
  "rpc_address '\\t'": (i) => (i.other.rpcAddress = '\t'),
  "rpc_address '  '": (i) => (i.other.rpcAddress = '  '),
  "rpc_address ''": (i) => (i.other.rpcAddress = ''),
  "rpc_address '0.0.0.0:26657'": (i) => (i.other.rpcAddress = '0.0.0.0:26657'),
};

/** Which field the Go error names, from its text. */
function goField(goError: string): string {
  if (goError.startsWith('info.Channels')) return 'channels';
  if (goError.startsWith('info.Version')) return 'version';
  if (goError.startsWith('info.Moniker')) return 'moniker';
  if (goError.startsWith('info.Other.TxIndex')) return 'other.tx_index';
  if (goError.startsWith('info.Other.RPCAddress')) return 'other.rpc_address';
  return 'listen_addr';
}

describe('validateNodeInfo: CometBFT TestNodeInfoValidate table', () => {
  it('the base info is valid', () => {
    expect(() => validateNodeInfo(baseInfo())).not.toThrow();
  });

  const cases: [string, boolean][] = tables.node_info_validate.cases_expect_error;
  it('covers every case of the table', () => {
    expect(Object.keys(validateMutations).sort()).toEqual(cases.map((c) => c[0]).sort());
  });

  it.each(cases)('%s -> error %s', (name, expectError) => {
    const info = baseInfo();
    validateMutations[name](info);
    if (!expectError) {
      expect(() => validateNodeInfo(info)).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      validateNodeInfo(info);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrNodeInfoInvalid);
    const goError: string = tables.node_info_validate.go_errors[name];
    expect((err as ErrNodeInfoInvalid).field).toBe(goField(goError));
    expect((err as ErrNodeInfoInvalid).reason.length).toBeGreaterThan(10);
  });

  it('an empty NodeInfo fails on its address (no ID), like Go', () => {
    const empty: NodeInfo = {
      protocolVersion: { p2p: 0, block: 0, app: 0 }, id: '', listenAddr: '', network: '', version: '',
      channels: new Uint8Array(0), moniker: '', other: { txIndex: '', rpcAddress: '' },
    };
    expect(() => validateNodeInfo(empty)).toThrow(/listen_addr.*no ID/);
  });

  it('reasons say what was wrong', () => {
    const dup = baseInfo();
    dup.channels = Uint8Array.from([0x20, 0x21, 0x20]);
    expect(() => validateNodeInfo(dup)).toThrow(/channel 0x20 is listed twice/);
    const many = baseInfo();
    many.channels = new Uint8Array(17).map((_, k) => k);
    expect(() => validateNodeInfo(many)).toThrow(/too many channels \(17\), at most 16/);
  });

  it('accepts a scheme in listen_addr and checks the ID through it', () => {
    const info = baseInfo();
    info.listenAddr = 'tcp://0.0.0.0:26656';
    expect(() => validateNodeInfo(info)).not.toThrow();
    info.id = 'nothex';
    expect(() => validateNodeInfo(info)).toThrow(ErrNodeInfoInvalid);
    info.id = ID.toUpperCase(); // valid form (the transport's string compare rejects it later)
    expect(() => validateNodeInfo(info)).not.toThrow();
  });

  it('host names: well-formed accepted by default, rejected on request, resolved by the async variant', async () => {
    const info = baseInfo();
    info.listenAddr = 'tcp://node.example.org:26656';
    expect(() => validateNodeInfo(info)).not.toThrow();
    expect(() => validateNodeInfo(info, { hostNames: 'reject' })).toThrow(/not an IP literal/);
    await expect(validateNodeInfoResolving(info, async () => '203.0.113.5')).resolves.toBeUndefined();
    await expect(validateNodeInfoResolving(info, async () => { throw new Error('ENOTFOUND'); })).rejects.toThrow(/does not resolve/);
    info.listenAddr = 'bad host!:26656';
    expect(() => validateNodeInfo(info)).toThrow(/not a valid host name/);
  });
});

describe('checkNodeInfoCompatible: CometBFT TestNodeInfoCompatible table', () => {
  const ours = (): NodeInfo => ({ ...baseInfo(), channels: Uint8Array.from([0x01]) });
  const mutations: Record<string, (o: NodeInfo, t: NodeInfo) => void> = {
    'same block version, same network, >=1 common channel': () => {},
    'extra channel added': (_o, t) => (t.channels = Uint8Array.from([0x01, 0x02])),
    'block version differs': (_o, t) => (t.protocolVersion.block = 12),
    'network differs': (_o, t) => (t.network = 'testing-wrong'),
    'no common channel': (_o, t) => (t.channels = Uint8Array.from([0x02])),
    'our channel list empty (peer has no common channel)': (o, t) => {
      o.channels = new Uint8Array(0);
      t.channels = Uint8Array.from([0x02]);
    },
    'p2p version differs': (_o, t) => (t.protocolVersion.p2p = 9),
    'app version differs': (_o, t) => (t.protocolVersion.app = 3),
  };
  const results: [string, string, string | null][] = tables.node_info_compatible.go_results;
  const checks: Record<string, string> = { 'block version differs': 'block-version', 'network differs': 'network', 'no common channel': 'channels' };

  it.each(results)('%s -> %s', (name, outcome) => {
    const o = ours();
    const t = ours();
    t.protocolVersion = { ...t.protocolVersion };
    mutations[name](o, t);
    if (outcome === 'compatible') {
      expect(() => checkNodeInfoCompatible(o, t)).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      checkNodeInfoCompatible(o, t);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrNodeInfoIncompatible);
    expect((err as ErrNodeInfoIncompatible).check).toBe(checks[name]);
  });

  it('reasons carry the values', () => {
    const o = ours();
    expect(() => checkNodeInfoCompatible(o, { ...o, protocolVersion: { p2p: 8, block: 12, app: 0 } })).toThrow(/version 12, we are on 11/);
    expect(() => checkNodeInfoCompatible(o, { ...o, network: 'other' })).toThrow(/"other", we are on "testing"/);
    expect(() => checkNodeInfoCompatible(o, { ...o, channels: Uint8Array.from([0x20, 0x30]) })).toThrow(/ours 0x01; peer's 0x20 0x30/);
  });

  it('accepts peers announcing p2p 8 (v0.34-v0.38) and 9 (v1.0)', () => {
    const o = buildNodeInfo({ nodeId: ID, listenAddr: 'tcp://0.0.0.0:26656', network: 'c', version: 'v', moniker: 'm', channels: [0] });
    for (const p2p of [8, 9]) {
      expect(() => checkNodeInfoCompatible(o, { ...o, protocolVersion: { p2p, block: 11, app: 1 } })).not.toThrow();
    }
  });
});

describe('encode / decode', () => {
  it('round-trips, leaving zeros out but always writing protocol_version and other', () => {
    const info = baseInfo();
    expect(decodeNodeInfo(encodeNodeInfo(info))).toEqual(info);
    const empty: NodeInfo = {
      protocolVersion: { p2p: 0, block: 0, app: 0 }, id: '', listenAddr: '', network: '', version: '',
      channels: new Uint8Array(0), moniker: '', other: { txIndex: '', rpcAddress: '' },
    };
    expect(Buffer.from(encodeNodeInfo(empty)).toString('hex')).toBe('0a004200');
    expect(decodeNodeInfo(encodeNodeInfo(empty))).toEqual(empty);
    expect(decodeNodeInfo(new Uint8Array(0))).toEqual(empty);
  });

  it('skips unknown fields', () => {
    const bytes = encodeNodeInfo(baseInfo());
    const withUnknown = Buffer.concat([Buffer.from(bytes), Buffer.from('4a03616263', 'hex'), Buffer.from('5005', 'hex')]);
    expect(decodeNodeInfo(withUnknown)).toEqual(baseInfo());
  });

  it('decoding garbage is ErrNodeInfoDecode, never another error', () => {
    for (const hex of ['ff', '0a', '0a05', '12ffffffff0f', '0aff01', '0a020801ff', '07', '1affffffffffffffffffff01']) {
      expect(() => decodeNodeInfo(Buffer.from(hex, 'hex')), hex).toThrow(ErrNodeInfoDecode);
    }
    expect(() => decodeNodeInfo(new Uint8Array(MAX_NODE_INFO_SIZE_BYTES + 1))).toThrow(/over the 10240-byte limit/);
  });

  it('random bytes either decode or throw ErrNodeInfoDecode (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const info = decodeNodeInfo(bytes);
          expect(info.channels).toBeInstanceOf(Uint8Array);
        } catch (err) {
          expect(err).toBeInstanceOf(ErrNodeInfoDecode);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips arbitrary field values (property)', () => {
    const text = fc.string({ maxLength: 40 });
    const u = fc.integer({ min: 0, max: 2 ** 32 });
    fc.assert(
      fc.property(text, text, text, text, text, text, text, u, u, u, fc.uint8Array({ maxLength: 20 }), (id, listenAddr, network, version, moniker, txIndex, rpcAddress, p2p, block, app, channels) => {
        const info: NodeInfo = { protocolVersion: { p2p, block, app }, id, listenAddr, network, version, channels, moniker, other: { txIndex, rpcAddress } };
        expect(decodeNodeInfo(encodeNodeInfo(info))).toEqual(info);
      }),
      { numRuns: 500 },
    );
  });
});

describe('buildNodeInfo and helpers', () => {
  it('fills protocol defaults and validates', () => {
    const info = buildNodeInfo({
      nodeId: ID, listenAddr: 'tcp://0.0.0.0:26656', network: 'test-chain-A1', version: '0.38.25', moniker: 'node-a',
      channels: [0x40, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x60, 0x61, 0x00], txIndex: 'on', rpcAddress: 'tcp://127.0.0.1:26657',
    });
    expect(info.protocolVersion).toEqual({ p2p: 8, block: 11, app: 0 });
    expect(DEFAULT_PROTOCOL_VERSION).toEqual({ p2p: 8, block: 11, app: 0 });
    // Same bytes as the CometBFT NodeInfo vector built from the same values.
    const wire = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-wire-vectors.json', 'utf8'));
    const full = wire.entries.find((e: { name: string }) => e.name.startsWith('DefaultNodeInfo example'));
    expect(Buffer.from(encodeNodeInfo(info)).toString('hex')).toBe(full.hex.slice(4)); // minus the 2-byte uvarint prefix
    expect(buildNodeInfo({ nodeId: ID, listenAddr: '1.2.3.4:1', network: 'n', version: '', moniker: 'm', channels: [] }).other).toEqual({ txIndex: 'off', rpcAddress: '' });
    expect(buildNodeInfo({ nodeId: ID, listenAddr: '1.2.3.4:1', network: 'n', version: '', moniker: 'm', channels: [], protocolVersion: { p2p: 9 } }).protocolVersion).toEqual({ p2p: 9, block: 11, app: 0 });
  });

  it('rejects bad user input naming the field', () => {
    const ok = { nodeId: ID, listenAddr: 'tcp://0.0.0.0:26656', network: 'n', version: '1', moniker: 'm', channels: [0] };
    expect(() => buildNodeInfo({ ...ok, nodeId: ID.toUpperCase() })).toThrow(/invalid NodeInfo id/);
    expect(() => buildNodeInfo({ ...ok, channels: [256] })).toThrow(/invalid NodeInfo channels/);
    expect(() => buildNodeInfo({ ...ok, channels: [1, 1] })).toThrow(/listed twice/);
    expect(() => buildNodeInfo({ ...ok, moniker: '' })).toThrow(/invalid NodeInfo moniker/);
    expect(() => buildNodeInfo({ ...ok, listenAddr: '0.0.0.0' })).toThrow(/invalid NodeInfo listen_addr/);
    expect(() => buildNodeInfo({ ...ok, txIndex: 'yes' })).toThrow(/tx_index/);
    expect(() => buildNodeInfo({ ...ok, protocolVersion: { block: -1 } })).toThrow(/protocol_version.block/);
  });

  it('nodeInfoNetAddress / resolve / hasChannel / JSON', async () => {
    const info = baseInfo();
    info.listenAddr = 'tcp://203.0.113.7:26656';
    expect(nodeInfoNetAddress(info).toString()).toBe(`${ID}@203.0.113.7:26656`);
    info.listenAddr = 'tcp://seed.example.org:26656';
    expect(() => nodeInfoNetAddress(info)).toThrow(ErrNetAddressLookupNeeded);
    expect((await resolveNodeInfoNetAddress(info, async () => '198.51.100.1')).toString()).toBe(`${ID}@198.51.100.1:26656`);
    expect(nodeInfoHasChannel(info, 15)).toBe(true);
    expect(nodeInfoHasChannel(info, 16)).toBe(false);
    const json = nodeInfoToJson({ ...baseInfo(), channels: Uint8Array.from([0x40, 0x0a]) });
    expect(json.protocol_version).toEqual({ p2p: '8', block: '11', app: '0' });
    expect(json.channels).toBe('400A');
    expect(json.other).toEqual({ tx_index: 'on', rpc_address: '127.0.0.1:26657' });
  });
});
