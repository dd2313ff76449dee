/**
 * Switchyard's public API. Everything a user programs against is re-exported here; modules not
 * listed are internal.
 */

// Foundation: injected time and randomness, logging, errors, node IDs
export { type Clock, type TimerHandle, SystemClock, VirtualClock, systemClock } from './p2p/clock.js';
export { type Rng, SeededRng, CryptoRng, cryptoRng } from './p2p/rng.js';
export { type Logger, silentLogger } from './p2p/logger.js';
export { SwitchyardError } from './p2p/errors.js';
export { type NodeId, nodeIdFromPubKey, isValidNodeId } from './p2p/node-id.js';

// Identity, addresses and NodeInfo
export { NodeKey, ErrNodeKeyRead, ErrNodeKeyNotFound, ErrNodeKeyMalformed, ErrNodeKeyExists, ErrNodeKeyWrite, ErrNodeKeyInvalid } from './p2p/node-key.js';
export { defaultNodeKeyBackend, type NodeKeyBackend } from './p2p/node-key.js';
export { NetAddress, type HostLookup, ErrNetAddressNoId, ErrNetAddressInvalid, ErrNetAddressLookupNeeded, ErrNetAddressLookup, ErrNetAddressFromProto, ErrNetAddressBadField } from './p2p/net-address.js';
export { type NodeInfo, type NodeInfoOther, type ProtocolVersion, type BuildNodeInfoOptions, buildNodeInfo, encodeNodeInfo, decodeNodeInfo, validateNodeInfo, validateNodeInfoResolving, checkNodeInfoCompatible, nodeInfoNetAddress, resolveNodeInfoNetAddress, nodeInfoHasChannel, nodeInfoToJson, DEFAULT_PROTOCOL_VERSION, MAX_NODE_INFO_SIZE_BYTES, ErrNodeInfoDecode, ErrNodeInfoInvalid, ErrNodeInfoIncompatible } from './p2p/node-info.js';

// Connections: SecretConnection and MConnection
export { createDuplexPair } from './p2p/conn/duplex-pair.js';
export { SecretConnection, type LocalIdentity, type SecretConnectionDeps, type SecretConnectionOptions, DEFAULT_HANDSHAKE_TIMEOUT_MS, MAX_HANDSHAKE_MESSAGE_BYTES, OFFLOAD_MIN_FRAMES } from './p2p/conn/secret-connection.js';
export { ErrHandshakeTimeout, ErrHandshakeStreamFailed, ErrInvalidEphemeralKey, ErrSmallOrderRemotePubKey, ErrHandshakeMessageMalformed, ErrUnsupportedPubKeyType, ErrMalformedPubKey, ErrChallengeVerification, ErrFrameTooLarge, ErrFrameAuthFailed, ErrTruncatedFrame, ErrNonceExhausted, ErrInvalidLocalIdentity } from './p2p/conn/secret-connection-errors.js';
export { readDelimited, writeDelimited, encodeDelimited, type ReadDelimitedOptions, ErrDelimitedMessageTooLarge, ErrDelimitedMessageTruncated, ErrDelimitedVarintMalformed } from './p2p/conn/delimited.js';
export { type FrameAeadKind } from './p2p/conn/frame-aead.js';
export { FrameCryptoPool, type FrameCryptoPoolOptions } from './p2p/conn/frame-crypto-pool.js';
export { MConnection, type MConnectionOptions, type MConnectionHandlers, DEFAULT_SEND_RATE, DEFAULT_RECV_RATE, DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE, DEFAULT_FLUSH_THROTTLE_MS, DEFAULT_PING_INTERVAL_MS, DEFAULT_PONG_TIMEOUT_MS, DEFAULT_SEND_TIMEOUT_MS } from './p2p/conn/mconnection.js';
export { type ChannelDescriptor, DEFAULT_SEND_QUEUE_CAPACITY, DEFAULT_RECV_BUFFER_CAPACITY_BYTES, DEFAULT_RECV_MESSAGE_CAPACITY_BYTES } from './p2p/conn/channel.js';
export { type ConnectionStatus, type ChannelStatus, type CometConnectionStatusJson, toCometConnectionStatus } from './p2p/conn/connection-status.js';
export { type RateStatus } from './p2p/conn/flow-rate.js';
export { ErrMConnectionConfig, ErrUnknownChannel, ErrPacketTooLarge, ErrMalformedPacket, ErrUnknownPacketType, ErrRecvMessageTooLarge, ErrPongTimeout, ErrConnectionClosed, ErrConnectionIO, ErrReceiveHandlerFailed, ErrFlushStopTimeout } from './p2p/conn/mconnection-errors.js';

// Transports, upgrade, peers, reactors and the Switch
export { Switch, STABLE_CONNECTION_MS, type AddrBookLike, type SwitchDeps, type SwitchOptions } from './p2p/switch.js';
export { type SwitchNodeInfoOptions, type ConnFilter, type PeerFilter } from './p2p/switch-options.js';
export { type SwitchEvents } from './p2p/switch-events.js';
export { type Reactor, BaseReactor, type Envelope } from './p2p/reactor.js';
export { Peer, type PeerInit, type PeerDeps, type PeerStatus } from './p2p/peer.js';
export { PeerSet, type PeerSetMember } from './p2p/peer-set.js';
export { type Transport, type TransportAddress, type RawConnection, type ConnectionHandler, type DialOptions, DEFAULT_DIAL_TIMEOUT_MS } from './p2p/transport/transport.js';
export { TcpTransport, type TcpTransportOptions } from './p2p/transport/tcp-transport.js';
export { MemoryNetwork, MemoryTransport, type MemoryNetworkOptions, type MemoryTransportOptions } from './p2p/transport/memory-transport.js';
export { ErrDialTimeout, ErrConnectionRefused, ErrDialFailed, ErrDialAborted, ErrTransportClosed, ErrTransportListening, ErrListenFailed } from './p2p/transport/transport-errors.js';
export { upgradeConnection, runFilters, type UpgradeRequest, type UpgradedConnection, DEFAULT_FILTER_TIMEOUT_MS } from './p2p/upgrade.js';
export { planRedial, type RedialStep, type RedialPhase, type RedialScheduleOptions, DEFAULT_REDIAL_CAP_MS } from './p2p/persistent-redial.js';
export { ErrRejected, ErrRejectedAuthFailure, ErrRejectedDialedIdMismatch, ErrRejectedInvalidNodeInfo, ErrRejectedNodeInfoIdMismatch, ErrRejectedSelf, ErrRejectedDuplicate, ErrRejectedIncompatible, ErrRejectedFiltered, ErrUpgradeTimeout, ErrRejectedInboundLimit, ErrRejectedUpgradeLimit, ErrPeerSetDuplicate, ErrPeerRemovalFailed, ErrDuplicateChannel, ErrDuplicateReactor, ErrInvalidChannel, ErrSwitchStarted, ErrSwitchNotRunning, ErrAlreadyDialingOrConnected, ErrNoReactorForChannel, ErrReactorFailed, ErrSwitchConfig, PeerStoppedGracefully, SwitchStopping } from './p2p/switch-errors.js';
export { ErrRejectedBanned } from './p2p/switch-errors.js';
export { type PeerBanList } from './p2p/switch-options.js';

// Address book
export { AddrBook, type AddrBookDeps, type AddrBookOptions, type AddrBookLoadReport } from './addrbook/addr-book.js';
export { type AddrBookLayout, DEFAULT_LAYOUT as DEFAULT_ADDRBOOK_LAYOUT } from './addrbook/params.js';
export { groupKey } from './addrbook/group-key.js';
export { ErrAddrBookRefused, ErrAddrBookNilAddr, ErrAddrBookInvalidAddr, ErrAddressBanned, ErrAddrBookPrivate, ErrAddrBookPrivateSrc, ErrAddrBookSelf, ErrAddrBookNonRoutable, ErrAddrBookOption, ErrAddrBookFileCorrupt, ErrAddrBookInvariant } from './addrbook/errors.js';
export { ErrAddrBookSaveAbandoned } from './addrbook/errors.js';
export type { AtomicWriteAsyncFs, AtomicWriteFileHandle } from './addrbook/atomic-write.js';

// PEX reactor
export { PexReactor, PEX_CHANNEL_DESCRIPTOR, type PexReactorDeps, type PexReactorOptions, type ResolvedPexOptions, type PexStats } from './pex/pex-reactor.js';
export { type PexAddrBook, type PexPeer, type PexSwitch, type PexObserver } from './pex/pex-deps.js';
export { encodePexRequest, encodePexAddrs, decodePexMessage, validatePexAddrs, type PexMessage, type WireAddress } from './pex/pex-codec.js';
export { validateSeedList, resolveSeeds } from './pex/seeds.js';
export { PEX_CHANNEL_ID, MAX_PEX_MESSAGE_BYTES, MAX_ADDRS_PER_MESSAGE, DEFAULT_ENSURE_PEERS_PERIOD_MS, DEFAULT_BAN_TIME_MS, MAX_DIAL_ATTEMPTS, DEFAULT_SEED_DISCONNECT_WAIT_MS } from './pex/params.js';
export { ErrPexMalformedMessage, ErrPexUnknownMessage, ErrPexInvalidAddress, ErrPexTooManyAddrs, ErrPexUnsolicitedAddrs, ErrPexRequestTooSoon, ErrDialTooEarly, ErrDialMaxAttempts, ErrDialBudgetSpent, ErrPexSeedConfig, ErrPexNoReachableSeeds, ErrPexOption } from './pex/errors.js';

// The node: config, CLI pieces, RPC, metrics, logs
export { Node, type NodeDeps, type NodeOptions, advertisedListenAddr } from './node/node.js';
export { loadConfig, checkConfigText, configFilePath, defaultMoniker, type NodeConfig, type P2pConfig, type ConfigFlags } from './node/load-config.js';
export { CONFIG_KEYS, OVERRIDE_FLAGS, type ConfigKeyDef, type ConfigKind, type ConfigSection } from './node/config-schema.js';
export { renderConfigToml, type ConfigValues } from './node/config-template.js';
export { initHome, defaultHome, type InitResult, ErrInitWrite } from './node/home.js';
export { ErrConfigInvalid, ErrConfigUnknownKey, ErrConfigUnreadable } from './node/errors.js';
export { createNodeLogger, type NodeLoggerOptions } from './node/log.js';
export { parseLogLevel, type LogLevels, type LevelName } from './node/log-level.js';
export { PrometheusRegistry, noopMetrics, type Metrics, type Counter, type Gauge, type Sample, type Labels, type MetricType } from './node/metrics.js';
export { MetricsServer, type MetricsServerOptions } from './node/metrics-server.js';
export { RpcServer, type RpcServerOptions } from './node/rpc/server.js';
export { type RpcBackend, type RpcPeer, type DialPeersOptions, type PeerRates } from './node/rpc/backend.js';
export { ErrPeerNotConnected, ErrPeerBannedByOperator, ErrBanRefused } from './node/node-rpc-backend.js';
export { OperatorBans } from './node/operator-bans.js';
export { TX_INDEXERS, type TxIndexer } from './node/load-config.js';
