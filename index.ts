/**
 * Switchyard's public API. Everything a user programs against is re-exported here; modules not
 * listed are internal.
 */
export { type Clock, type TimerHandle, SystemClock, VirtualClock, systemClock } from './p2p/clock.js';
export { type Rng, SeededRng, CryptoRng, cryptoRng } from './p2p/rng.js';
export { type Logger, silentLogger } from './p2p/logger.js';
export { SwitchyardError } from './p2p/errors.js';
export { createDuplexPair } from './p2p/conn/duplex-pair.js';
export { type NodeId, nodeIdFromPubKey, isValidNodeId } from './p2p/node-id.js';
export { NodeKey, ErrNodeKeyRead, ErrNodeKeyNotFound, ErrNodeKeyMalformed, ErrNodeKeyExists, ErrNodeKeyWrite, ErrNodeKeyInvalid } from './p2p/node-key.js';
export { NetAddress, type HostLookup, ErrNetAddressNoId, ErrNetAddressInvalid, ErrNetAddressLookupNeeded, ErrNetAddressLookup, ErrNetAddressFromProto, ErrNetAddressBadField } from './p2p/net-address.js';
export { type NodeInfo, type NodeInfoOther, type ProtocolVersion, type BuildNodeInfoOptions, buildNodeInfo, encodeNodeInfo, decodeNodeInfo, validateNodeInfo, validateNodeInfoResolving, checkNodeInfoCompatible, nodeInfoNetAddress, resolveNodeInfoNetAddress, nodeInfoHasChannel, nodeInfoToJson, DEFAULT_PROTOCOL_VERSION, MAX_NODE_INFO_SIZE_BYTES, ErrNodeInfoDecode, ErrNodeInfoInvalid, ErrNodeInfoIncompatible } from './p2p/node-info.js';
