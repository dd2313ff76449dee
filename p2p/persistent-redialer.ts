/**
 * The stateful shell around planRedial: one redial loop per persistent peer ID, each sleeping on
 * the Clock between dials and drawing its jitter from the Rng, all aborted by stopAll(). The
 * Switch supplies the dial; a dial that succeeds, or fails in a way another try cannot fix
 * (already connected, duplicate, ourselves, Switch stopped), ends the loop.
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { NetAddress } from './net-address.js';
import type { NodeId } from './node-id.js';
import { planRedial, REDIAL_JITTER_MAX_MS } from './persistent-redial.js';
import type { Rng } from './rng.js';
import { ErrAlreadyDialingOrConnected, ErrRejectedDuplicate, ErrRejectedSelf, ErrSwitchNotRunning } from './switch-errors.js';

/**
 * A persistent peer's connection that lasted this long counts as stable: when it drops, redialing
 * starts over (at once). A shorter one resumes the schedule where the last loop left off, so a peer
 * that accepts and then drops us backs off instead of being redialed in a tight loop.
 */
export const STABLE_CONNECTION_MS = 60_000;

export interface PersistentRedialerDeps {
  clock: Clock;
  rng: Rng;
  logger: Logger;
  /** Dials and adds the peer; resolves once it is connected. */
  dial(addr: NetAddress): Promise<unknown>;
  /** Loops only run, and only start, while this holds. */
  isRunning(): boolean;
  /** Registers background work the owner waits for when it stops. */
  track(work: Promise<unknown>): void;
}

/** One peer's redial loop. */
interface RedialLoop {
  readonly controller: AbortController;
  /** Schedule position of the dial in flight (or just made, until the loop decides what next); undefined while sleeping. */
  dialAttempt: number | undefined;
  /** A restart asked for after this loop's current dial began: where the schedule continues once that dial is over. */
  restartAt: number | undefined;
}

export class PersistentRedialer {
  private readonly loops = new Map<NodeId, RedialLoop>();
  /** Schedule position after the last successful redial, per ID (persistent peers only: bounded by config). */
  private readonly resumeAt = new Map<NodeId, number>();

  constructor(
    private readonly deps: PersistentRedialerDeps,
    private readonly options: { maxDialPeriodMs: number },
  ) {}

  /** After a connection of `id` dropped: where its new loop starts. */
  firstAttemptAfterDrop(id: NodeId, connectedForMs: number): number {
    if (connectedForMs >= STABLE_CONNECTION_MS) return 0;
    // The loop's own dial may have made the connection that dropped, before the loop recorded its
    // success in resumeAt: continue after that dial.
    const dialAttempt = this.loops.get(id)?.dialAttempt;
    if (dialAttempt !== undefined) return dialAttempt + 1;
    return this.resumeAt.get(id) ?? 0;
  }

  /**
   * Starts the loop for `addr.id`; dial number `firstAttempt` of the schedule comes first. When a
   * loop already runs and is sleeping, its next dial serves this request too. When its dial has
   * begun, the connection that dial makes may be the very one that dropped (a reactor's addPeer or
   * a 'peer:add' listener that stops the peer does so before the loop has finished): the loop then
   * carries on from `firstAttempt` instead of ending, so the peer is never left without a loop.
   */
  start(addr: NetAddress, firstAttempt: number): void {
    if (!this.deps.isRunning()) return;
    const existing = this.loops.get(addr.id);
    if (existing) {
      if (existing.dialAttempt !== undefined) existing.restartAt = Math.min(existing.restartAt ?? firstAttempt, firstAttempt);
      return;
    }
    const loop: RedialLoop = { controller: new AbortController(), dialAttempt: undefined, restartAt: undefined };
    this.loops.set(addr.id, loop);
    this.deps.track(this.run(addr, firstAttempt, loop).catch(() => undefined)); // rejects only with an aborted sleep's reason
  }

  /** Aborts every loop (their sleeps end at once). */
  stopAll(reason: unknown): void {
    for (const loop of this.loops.values()) loop.controller.abort(reason);
  }

  /** IDs with a loop running. */
  active(): NodeId[] {
    return [...this.loops.keys()];
  }

  get size(): number {
    return this.loops.size;
  }

  private async run(addr: NetAddress, firstAttempt: number, loop: RedialLoop): Promise<void> {
    const { clock, rng, logger } = this.deps;
    const signal = loop.controller.signal;
    try {
      for (let attempt = firstAttempt; ; ) {
        const { delayMs } = planRedial(attempt, rng.int(REDIAL_JITTER_MAX_MS), { maxDialPeriodMs: this.options.maxDialPeriodMs });
        if (delayMs > 0) await clock.sleep(delayMs, signal);
        if (!this.deps.isRunning() || signal.aborted) return;
        loop.dialAttempt = attempt;
        loop.restartAt = undefined;
        let done: boolean;
        try {
          await this.deps.dial(addr);
          this.resumeAt.set(addr.id, attempt + 1);
          done = true;
        } catch (err) {
          done =
            err instanceof ErrAlreadyDialingOrConnected ||
            err instanceof ErrRejectedDuplicate ||
            err instanceof ErrRejectedSelf ||
            err instanceof ErrSwitchNotRunning;
          if (!done) logger.info({ err, address: addr.toString(), attempt }, 'redial of persistent peer failed');
        }
        loop.dialAttempt = undefined;
        if (!done) {
          attempt++;
          continue;
        }
        // Deciding to end and leaving the map happen in one synchronous step (the finally below), so
        // a start() either lands here as restartAt or finds no loop and starts a new one.
        const restartAt = loop.restartAt;
        loop.restartAt = undefined;
        if (restartAt === undefined || !this.deps.isRunning() || signal.aborted) return;
        attempt = restartAt;
      }
    } finally {
      if (this.loops.get(addr.id) === loop) this.loops.delete(addr.id);
    }
  }
}
