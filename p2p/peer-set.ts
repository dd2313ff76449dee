/**
 * The connected peers, by ID. Reads are cheap and common (every broadcast, every PEX round), so
 * `list()` hands out a frozen snapshot that is rebuilt lazily after a change: callers may keep a
 * snapshot across awaits while peers come and go.
 */
import type { NodeId } from './node-id.js';
import { ErrPeerRemovalFailed, ErrPeerSetDuplicate } from './switch-errors.js';

/** What the set needs from a peer; the Switch's Peer satisfies it. */
export interface PeerSetMember {
  readonly id: NodeId;
  remoteIP(): string;
  /** Set by `remove` when the peer was not in the set; such a peer can never be added. */
  removalFailed: boolean;
}

export class PeerSet<P extends PeerSetMember = PeerSetMember> {
  private readonly byId = new Map<NodeId, P>();
  private snapshot: readonly P[] | undefined = Object.freeze([]);

  /** Adds `peer`; throws ErrPeerSetDuplicate or ErrPeerRemovalFailed. */
  add(peer: P): void {
    if (peer.removalFailed) throw new ErrPeerRemovalFailed(peer.id);
    if (this.byId.has(peer.id)) throw new ErrPeerSetDuplicate(peer.id);
    this.byId.set(peer.id, peer);
    this.snapshot = undefined;
  }

  /**
   * Removes this very peer object. Returns false, and flags the peer so a later `add` fails, when
   * it is not in the set (for instance it failed before it was added).
   */
  remove(peer: P): boolean {
    if (this.byId.get(peer.id) !== peer) {
      peer.removalFailed = true;
      return false;
    }
    this.byId.delete(peer.id);
    this.snapshot = undefined;
    return true;
  }

  has(id: NodeId): boolean {
    return this.byId.has(id);
  }

  get(id: NodeId): P | undefined {
    return this.byId.get(id);
  }

  /** Whether a peer with this remote IP is connected. */
  hasIP(ip: string): boolean {
    for (const p of this.byId.values()) if (p.remoteIP() === ip) return true;
    return false;
  }

  /** A snapshot in insertion order; not affected by later changes. */
  list(): readonly P[] {
    if (!this.snapshot) this.snapshot = Object.freeze([...this.byId.values()]);
    return this.snapshot;
  }

  get size(): number {
    return this.byId.size;
  }
}
