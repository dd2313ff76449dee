/**
 * Bans an operator sets through the RPC: by node ID, until a clock time. The Node hands them to
 * the Switch's ban list (with the address book's running bans), so a banned node can neither
 * connect to us nor be dialed by us while the ban lasts. Kept in memory (the address book's own
 * ban, set at the same time, is the persisted one).
 */
import type { Clock } from '../p2p/clock.js';

export class OperatorBans {
  private readonly untilMs = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  ban(id: string, durationMs: number): number {
    const until = this.clock.now() + durationMs;
    this.untilMs.set(id.toLowerCase(), until);
    return until;
  }

  /** Returns whether a ban was lifted. */
  unban(id: string): boolean {
    return this.untilMs.delete(id.toLowerCase());
  }

  /** Whether `id` is banned now; an expired ban is dropped on the way. */
  isBanned(id: string): boolean {
    return this.bannedUntil(id) !== undefined;
  }

  /** When the ban on `id` ends (Clock ms), or undefined when it is not banned now; an expired ban is dropped on the way. */
  bannedUntil(id: string): number | undefined {
    const key = id.toLowerCase();
    const until = this.untilMs.get(key);
    if (until === undefined) return undefined;
    if (this.clock.now() < until) return until;
    this.untilMs.delete(key);
    return undefined;
  }

  /** Number of running bans (expired ones are dropped on the way). */
  size(): number {
    const now = this.clock.now();
    for (const [id, until] of this.untilMs) if (until <= now) this.untilMs.delete(id);
    return this.untilMs.size;
  }
}
