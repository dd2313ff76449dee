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

export class PersistentRedialer {
  private readonly loops = new Map<NodeId, AbortController>();
  /** Schedule position after the last successful redial, per ID (persistent peers only: bounded by config). */
  private readonly resumeAt = new Map<NodeId, number>();

  constructor(
    private readonly deps: PersistentRedialerDeps,
    private readonly options: { maxDialPeriodMs: number },
  ) {}

  /** After a connection of `id` dropped: where its new loop starts. */
  firstAttemptAfterDrop(id: NodeId, connectedForMs: number): number {
    return connectedForMs >= STABLE_CONNECTION_MS ? 0 : (this.resumeAt.get(id) ?? 0);
  }

  /** Starts the loop for `addr.id` unless one runs; dial number `firstAttempt` of the schedule comes first. */
  start(addr: NetAddress, firstAttempt: number): void {
    if (!this.deps.isRunning() || this.loops.has(addr.id)) return;
    const ac = new AbortController();
    this.loops.set(addr.id, ac);
    this.deps.track(
      this.run(addr, firstAttempt, ac.signal)
        .catch(() => undefined) // an aborted sleep
        .finally(() => {
          if (this.loops.get(addr.id) === ac) this.loops.delete(addr.id);
        }),
    );
  }

  /** Aborts every loop (their sleeps end at once). */
  stopAll(reason: unknown): void {
    for (const ac of this.loops.values()) ac.abort(reason);
  }

  /** IDs with a loop running. */
  active(): NodeId[] {
    return [...this.loops.keys()];
  }

  get size(): number {
    return this.loops.size;
  }

  private async run(addr: NetAddress, firstAttempt: number, signal: AbortSignal): Promise<void> {
    const { clock, rng, logger } = this.deps;
    for (let attempt = firstAttempt; ; attempt++) {
      const { delayMs } = planRedial(attempt, rng.int(REDIAL_JITTER_MAX_MS), { maxDialPeriodMs: this.options.maxDialPeriodMs });
      if (delayMs > 0) await clock.sleep(delayMs, signal);
      if (!this.deps.isRunning() || signal.aborted) return;
      try {
        await this.deps.dial(addr);
        this.resumeAt.set(addr.id, attempt + 1);
        return;
      } catch (err) {
        if (
          err instanceof ErrAlreadyDialingOrConnected ||
          err instanceof ErrRejectedDuplicate ||
          err instanceof ErrRejectedSelf ||
          err instanceof ErrSwitchNotRunning
        ) {
          return;
        }
        logger.info({ err, address: addr.toString(), attempt }, 'redial of persistent peer failed');
      }
    }
  }
}
