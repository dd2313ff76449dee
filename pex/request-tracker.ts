/**
 * Who asked whom for addresses, and when: the PEX abuse rules and their mirror for our own
 * requests. State is per connected peer and is forgotten when the peer disconnects (`forget`),
 * so a reconnecting peer starts fresh and the maps never outgrow the peer set.
 *
 * Receiving (CometBFT's rule): a peer's 1st and 2nd requests are free; the 2nd starts the clock;
 * each later one must come at least `minIntervalMs` after the previous accepted one.
 * Sending: at most one outstanding request per peer, and we hold ourselves to the same rule the
 * peer applies to us (plus `sendMarginMs` for delivery jitter), so we are never banned for asking.
 */

export type InboundVerdict = { kind: 'accept' } | { kind: 'too-soon'; sinceLastMs: number };

interface InboundState {
  /** Requests accepted so far (capped at 2: only "first", "second", "later" matter). */
  count: number;
  /** Time of the last accepted request that started or restarted the clock. */
  lastMs: number;
}

interface OutboundState {
  /** Requests sent on this connection (capped at 2, as above). */
  count: number;
  lastSentMs: number;
  outstanding: boolean;
}

export interface RequestTrackerOptions {
  /** Minimum gap between a peer's 3rd and later requests (ensurePeersPeriod / 3; 10 s by default). */
  minIntervalMs: number;
  /** Extra gap we keep on our own requests, so delivery jitter cannot make us look early. Default 0. */
  sendMarginMs?: number;
}

export class RequestTracker {
  private readonly inbound = new Map<string, InboundState>();
  private readonly outbound = new Map<string, OutboundState>();
  private readonly seedAnswered = new Set<string>();
  private readonly minIntervalMs: number;
  private readonly sendMarginMs: number;

  constructor(options: RequestTrackerOptions) {
    this.minIntervalMs = options.minIntervalMs;
    this.sendMarginMs = options.sendMarginMs ?? 0;
  }

  /** Applies the receive rule to a request from `peerId` at `nowMs`, recording it when accepted. */
  onRequestReceived(peerId: string, nowMs: number): InboundVerdict {
    const state = this.inbound.get(peerId);
    if (state === undefined) {
      this.inbound.set(peerId, { count: 1, lastMs: nowMs });
      return { kind: 'accept' };
    }
    if (state.count === 1) {
      state.count = 2;
      state.lastMs = nowMs;
      return { kind: 'accept' };
    }
    const sinceLastMs = nowMs - state.lastMs;
    if (sinceLastMs < this.minIntervalMs) return { kind: 'too-soon', sinceLastMs };
    state.lastMs = nowMs;
    return { kind: 'accept' };
  }

  /** Whether we may send a request to `peerId` now: none outstanding, and the peer's rule holds. */
  mayRequest(peerId: string, nowMs: number): boolean {
    const state = this.outbound.get(peerId);
    if (state === undefined) return true;
    if (state.outstanding) return false;
    if (state.count < 2) return true;
    return nowMs - state.lastSentMs >= this.minIntervalMs + this.sendMarginMs;
  }

  /** Earliest time a request to `peerId` is allowed by the interval rule (ignores outstanding). */
  nextRequestAtMs(peerId: string): number {
    const state = this.outbound.get(peerId);
    if (state === undefined || state.count < 2) return Number.NEGATIVE_INFINITY;
    return state.lastSentMs + this.minIntervalMs + this.sendMarginMs;
  }

  /** Records a request sent to `peerId`. Returns false (and records nothing) if not allowed now. */
  markRequested(peerId: string, nowMs: number): boolean {
    if (!this.mayRequest(peerId, nowMs)) return false;
    const state = this.outbound.get(peerId);
    if (state === undefined) {
      this.outbound.set(peerId, { count: 1, lastSentMs: nowMs, outstanding: true });
    } else {
      state.count = Math.min(2, state.count + 1);
      state.lastSentMs = nowMs;
      state.outstanding = true;
    }
    return true;
  }

  hasOutstanding(peerId: string): boolean {
    return this.outbound.get(peerId)?.outstanding === true;
  }

  /**
   * An answer from `peerId` arrived at `nowMs` (or, without `nowMs`, the request was never queued):
   * clears the outstanding mark. Returns false when there was none, that is, the answer was
   * unsolicited.
   *
   * With `nowMs`, our interval clock restarts at the answer's arrival when that is later than the
   * send: the peer's clock starts when it *handles* our request, which can be long after we sent
   * it (a busy peer, a slow link), but always before it answered. Counting from the answer keeps our
   * next request at least the interval after the peer's, however late it handled this one.
   */
  onAddrsReceived(peerId: string, nowMs?: number): boolean {
    const state = this.outbound.get(peerId);
    if (state === undefined || !state.outstanding) return false;
    state.outstanding = false;
    if (nowMs !== undefined && nowMs > state.lastSentMs) state.lastSentMs = nowMs;
    return true;
  }

  /** Seed mode: records that an inbound asker got its one answer; false if it already had it. */
  markSeedAnswered(peerId: string): boolean {
    if (this.seedAnswered.has(peerId)) return false;
    this.seedAnswered.add(peerId);
    return true;
  }

  /** Drops everything known about `peerId` (called when it disconnects). */
  forget(peerId: string): void {
    this.inbound.delete(peerId);
    this.outbound.delete(peerId);
    this.seedAnswered.delete(peerId);
  }

  /** Number of peers with any state (for leak tests). */
  get trackedPeers(): number {
    const ids = new Set<string>([...this.inbound.keys(), ...this.outbound.keys(), ...this.seedAnswered]);
    return ids.size;
  }
}
