/**
 * What the RPC server needs from a node. The Node implements it; tests implement it with a fake.
 * Operator calls may throw: the error's message becomes the JSON-RPC error's data.
 */
import type { NodeInfo } from '../../p2p/node-info.js';
import type { ConnectionStatus } from '../../p2p/conn/connection-status.js';

export interface RpcPeer {
  nodeInfo: NodeInfo;
  isOutbound: boolean;
  status: ConnectionStatus;
  remoteIp: string;
}

export interface DialPeersOptions {
  persistent: boolean;
  unconditional: boolean;
  private: boolean;
}

export interface PeerRates {
  /** Bytes per second; 0 = unlimited; undefined = unchanged. */
  sendRate?: number;
  recvRate?: number;
}

export interface RpcBackend {
  nodeInfo(): NodeInfo;
  /** Our Ed25519 public key (32 bytes), shown as /status validator_info.pub_key. */
  publicKey(): Uint8Array;
  /** Whether the p2p listener is up, and its addresses as CometBFT prints them. */
  isListening(): boolean;
  listeners(): string[];
  peers(): RpcPeer[];
  /** Starts dialing (does not wait for the dials to finish). */
  dialSeeds(addresses: string[]): void;
  dialPeers(addresses: string[], options: DialPeersOptions): void;
  /** Stops a connected peer; throws when no such peer. */
  disconnectPeer(peerId: string): Promise<void> | void;
  /** Bans `address` (id@ip:port) in the address book for `durationMs`, disconnecting it if connected. */
  banAddress(address: string, durationMs: number): Promise<{ untilMs: number }> | { untilMs: number };
  unbanAddress(address: string): Promise<void> | void;
  /** Changes one connected peer's rate limits; throws when no such peer. */
  setPeerRates(peerId: string, rates: PeerRates): Promise<void> | void;
}
