/**
 * Bans an operator sets through the RPC: by node ID, until a clock time. The Node checks them in
 * a Switch peer filter, so a banned node can neither dial us nor be dialed by us while the ban
 * lasts. Kept in memory (the address book's own ban, set at the same time, is the persisted one).
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
    const key = id.toLowerCase();
    const until = this.untilMs.get(key);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.untilMs.delete(key);
    return false;
  }

  size(): number {
    return this.untilMs.size;
  }
}
