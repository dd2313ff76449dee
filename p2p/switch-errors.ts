/**
 * Errors of the upgrade pipeline, the peer set and the Switch. One class per condition, with the
 * fields a caller needs to act on it. The upgrade rejections share the ErrRejected base so a caller
 * can tell "this peer was refused" from "this dial did not get through".
 */
import { SwitchyardError } from './errors.js';
import type { NodeId } from './node-id.js';

/** Base of every reason a connection was refused during the upgrade or by the Switch. */
export class ErrRejected extends SwitchyardError {
  constructor(
    message: string,
    /** 'ip:port' of the other end. */
    readonly remote: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The SecretConnection handshake, or the NodeInfo exchange after it, failed. */
export class ErrRejectedAuthFailure extends ErrRejected {
  constructor(
    remote: string,
    readonly stage: 'handshake' | 'node-info-exchange',
    cause: unknown,
  ) {
    super(`auth failure with ${remote} during ${stage}: ${(cause as Error)?.message ?? String(cause)}`, remote, { cause });
  }
}

/** Outbound only: the key on the other end is not the one in the address we dialed. */
export class ErrRejectedDialedIdMismatch extends ErrRejected {
  constructor(
    remote: string,
    readonly dialedId: NodeId,
    readonly authenticatedId: NodeId,
  ) {
    super(`dialed ${dialedId}@${remote} but the peer authenticated as ${authenticatedId}`, remote);
  }
}

/** The NodeInfo the peer sent does not validate (or does not decode). */
export class ErrRejectedInvalidNodeInfo extends ErrRejected {
  constructor(remote: string, cause: unknown) {
    super(`invalid NodeInfo from ${remote}: ${(cause as Error)?.message ?? String(cause)}`, remote, { cause });
  }
}

/** The NodeInfo ID is not the ID the handshake authenticated. */
export class ErrRejectedNodeInfoIdMismatch extends ErrRejected {
  constructor(
    remote: string,
    readonly authenticatedId: NodeId,
    readonly nodeInfoId: string,
  ) {
    super(`peer at ${remote} authenticated as ${authenticatedId} but its NodeInfo says ${nodeInfoId}`, remote);
  }
}

/** We connected to ourselves. */
export class ErrRejectedSelf extends ErrRejected {
  constructor(
    remote: string,
    readonly id: NodeId,
  ) {
    super(`connection to ${remote} is to ourselves (${id})`, remote);
  }
}

/** A peer with this ID is already connected (or being added). */
export class ErrRejectedDuplicate extends ErrRejected {
  constructor(
    remote: string,
    readonly id: NodeId,
  ) {
    super(`peer ${id} (${remote}) is already connected`, remote);
  }
}

/** Block protocol version, network or channels do not match. */
export class ErrRejectedIncompatible extends ErrRejected {
  constructor(
    remote: string,
    readonly id: NodeId,
    cause: unknown,
  ) {
    super(`peer ${id} at ${remote} is incompatible: ${(cause as Error)?.message ?? String(cause)}`, remote, { cause });
  }
}

/** A connection filter (by address) or a peer filter (by ID) refused the peer. */
export class ErrRejectedFiltered extends ErrRejected {
  constructor(
    remote: string,
    readonly filter: 'address' | 'id',
    /** The filter's own error (or a description, for built-in filters). */
    cause: unknown,
    readonly id?: NodeId,
  ) {
    super(`peer at ${remote}${id ? ` (${id})` : ''} refused by ${filter} filter: ${(cause as Error)?.message ?? String(cause)}`, remote, { cause });
  }
}

/** A step of the upgrade did not finish in time. */
export class ErrUpgradeTimeout extends ErrRejected {
  constructor(
    remote: string,
    readonly stage: 'handshake' | 'node-info-exchange' | 'address-filter' | 'id-filter',
    readonly timeoutMs: number,
  ) {
    super(`${stage} with ${remote} timed out after ${timeoutMs} ms`, remote);
  }
}

/** An inbound connection arrived while the inbound peer limit was reached. */
export class ErrRejectedInboundLimit extends ErrRejected {
  constructor(
    remote: string,
    readonly limit: number,
    readonly id?: NodeId,
  ) {
    super(`inbound peer limit ${limit} reached; refused ${id ?? 'connection'} from ${remote}`, remote);
  }
}

/** Too many inbound connections are being upgraded at once; this one was closed unread. */
export class ErrRejectedUpgradeLimit extends ErrRejected {
  constructor(
    remote: string,
    readonly limit: number,
  ) {
    super(`${limit} inbound connections are already being upgraded; refused ${remote}`, remote);
  }
}

/**
 * The peer's node ID is banned (the Switch's ban list, `SwitchDeps.bans`): an inbound peer is
 * refused after the upgrade (only then is its ID known), a dial is refused before it starts.
 */
export class ErrRejectedBanned extends ErrRejected {
  constructor(
    remote: string,
    readonly id: NodeId,
    /** When the ban ends, in Clock milliseconds. */
    readonly bannedUntilMs: number,
    readonly direction: 'inbound' | 'outbound',
  ) {
    super(`peer ${id} (${remote}) is banned until ${new Date(bannedUntilMs).toISOString()}; ${direction === 'inbound' ? 'connection refused' : 'not dialed'}`, remote);
  }
}

/** `PeerSet.add` with an ID already present. */
export class ErrPeerSetDuplicate extends SwitchyardError {
  constructor(readonly id: NodeId) {
    super(`peer ${id} is already in the peer set`);
  }
}

/** `PeerSet.add` of a peer object whose earlier removal failed (it was never in the set). */
export class ErrPeerRemovalFailed extends SwitchyardError {
  constructor(readonly id: NodeId) {
    super(`peer ${id} was stopped before it was added; it cannot be added now`);
  }
}

/** Two reactors claim the same channel. */
export class ErrDuplicateChannel extends SwitchyardError {
  constructor(
    readonly channelId: number,
    readonly reactor: string,
    readonly existingReactor: string,
  ) {
    super(`channel 0x${channelId.toString(16)} of reactor '${reactor}' is already used by reactor '${existingReactor}'`);
  }
}

export class ErrDuplicateReactor extends SwitchyardError {
  constructor(readonly reactor: string) {
    super(`a reactor named '${reactor}' is already registered`);
  }
}

/** Bad channel descriptor from a reactor (id not an integer in 0..255). */
export class ErrInvalidChannel extends SwitchyardError {
  constructor(
    readonly reactor: string,
    readonly channelId: number,
  ) {
    super(`reactor '${reactor}' declares channel id ${channelId}; channel ids are integers in 0..255`);
  }
}

/** addReactor after start. */
export class ErrSwitchStarted extends SwitchyardError {
  constructor(readonly operation: string) {
    super(`${operation} is only allowed before the Switch starts`);
  }
}

export class ErrSwitchNotRunning extends SwitchyardError {
  constructor(readonly operation: string) {
    super(`the Switch is not running (${operation})`);
  }
}

/** dialPeerWithAddress to an address being dialed, already connected, or whose IP is connected. */
export class ErrAlreadyDialingOrConnected extends SwitchyardError {
  constructor(
    readonly address: string,
    readonly reason: 'dialing' | 'connected' | 'duplicate-ip',
  ) {
    super(`${address}: ${reason === 'dialing' ? 'already dialing' : reason === 'connected' ? 'already connected' : 'a peer with this IP is already connected'}`);
  }
}

/** A message arrived on a channel no reactor handles. */
export class ErrNoReactorForChannel extends SwitchyardError {
  constructor(
    readonly peerId: NodeId,
    readonly channelId: number,
  ) {
    super(`peer ${peerId} sent a message on unknown channel 0x${channelId.toString(16)}`);
  }
}

/** A reactor's initPeer or addPeer threw; the peer is stopped with this reason. */
export class ErrReactorFailed extends SwitchyardError {
  constructor(
    readonly reactor: string,
    readonly method: 'initPeer' | 'addPeer' | 'receive',
    readonly peerId: NodeId,
    cause: unknown,
  ) {
    super(`reactor '${reactor}' ${method} failed for peer ${peerId}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Bad user input to the Switch (list entries, ids, options). */
export class ErrSwitchConfig extends SwitchyardError {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${key}: ${JSON.stringify(value)} is not valid; expected ${expected}`);
  }
}

/** Reason given to reactors and 'peer:remove' listeners for a peer stopped on purpose. */
export class PeerStoppedGracefully extends SwitchyardError {
  constructor(readonly peerId: NodeId) {
    super(`peer ${peerId} stopped gracefully`);
  }
}

/** Reason given to reactors and 'peer:remove' listeners when the Switch itself stops. */
export class SwitchStopping extends SwitchyardError {
  constructor() {
    super('the Switch is stopping');
  }
}
