/**
 * The decisions of one ensurePeers round, as pure functions over plain inputs. The reactor (the
 * thin shell) gathers counts and callbacks from the Switch and the address book, asks these
 * functions what to do, and does it.
 */
import { BIAS_OUTBOUND_CAP, PICKS_PER_DIAL } from './params.js';

export interface PeerCounts {
  readonly outbound: number;
  readonly inbound: number;
  readonly dialing: number;
}

/** How many more outbound connections to start: max outbound − (outbound + dialing), never < 0. */
export function dialBudget(maxOutbound: number, counts: PeerCounts): number {
  return Math.max(0, maxOutbound - (counts.outbound + counts.dialing));
}

/**
 * Percentage of picks taken from new (untried) buckets: 10 % with no outbound peer, +10 per
 * outbound peer, 90 % from 8 on. Few connections → prefer addresses that worked before.
 */
export function newBiasFor(outbound: number): number {
  return Math.min(Math.max(0, outbound), BIAS_OUTBOUND_CAP) * 10 + 10;
}

/** Why a picked address is not dialed this round. */
export type SkipReason =
  | 'self'
  | 'connected-or-dialing'
  | 'banned'
  | 'backing-off'
  | 'persistent'
  | 'duplicate';

export interface ChooseInput<A> {
  readonly numToDial: number;
  /** One pick from the book (with the round's bias); undefined when it has nothing. */
  readonly pick: () => A | undefined;
  /** Identity of an address for de-duplication within the round (the dial string). */
  readonly keyOf: (addr: A) => string;
  /** Why `addr` must not be dialed now, or undefined when it may. */
  readonly skipReason: (addr: A) => Exclude<SkipReason, 'duplicate'> | undefined;
  /** Picks per address wanted; 3 like CometBFT. */
  readonly picksPerDial?: number;
}

export interface ChooseResult<A> {
  readonly chosen: A[];
  /** Picks made (at most numToDial × picksPerDial). */
  readonly picks: number;
  /** Picks that returned nothing. */
  readonly empty: number;
  readonly skipped: Readonly<Partial<Record<SkipReason, number>>>;
}

/**
 * Picks up to `numToDial × 3` times and keeps the first `numToDial` distinct dialable addresses.
 * Unlike CometBFT, addresses that are banned or still backing off are skipped here instead of
 * using up dial slots.
 */
export function chooseDialTargets<A>(input: ChooseInput<A>): ChooseResult<A> {
  const chosen: A[] = [];
  const skipped: Partial<Record<SkipReason, number>> = {};
  if (input.numToDial <= 0) return { chosen, picks: 0, empty: 0, skipped };
  const maxPicks = input.numToDial * (input.picksPerDial ?? PICKS_PER_DIAL);
  const seen = new Set<string>();
  let picks = 0;
  let empty = 0;
  while (picks < maxPicks && chosen.length < input.numToDial) {
    picks++;
    const addr = input.pick();
    if (addr === undefined) {
      empty++;
      continue;
    }
    const key = input.keyOf(addr);
    const reason: SkipReason | undefined = seen.has(key) ? 'duplicate' : input.skipReason(addr);
    if (reason !== undefined) {
      skipped[reason] = (skipped[reason] ?? 0) + 1;
      continue;
    }
    seen.add(key);
    chosen.push(addr);
  }
  return { chosen, picks, empty, skipped };
}

export interface RefillInput<P> {
  /** The book's needMoreAddrs() after reinstatement. */
  readonly needMoreAddrs: boolean;
  /** True on the periodic tick; false on a seed wake-up (which must never send a request). */
  readonly periodElapsed: boolean;
  /** Addresses chosen for dialing this round. */
  readonly chosenCount: number;
  /** Connected peers we may ask right now (no outstanding request, interval respected). */
  readonly requestablePeers: readonly P[];
  readonly seedsConfigured: boolean;
  /** Uniform index in [0, n): the shell's Rng. */
  readonly randomIndex: (n: number) => number;
}

export interface RefillPlan<P> {
  /** The one peer to ask for addresses, if any. */
  readonly requestFrom: P | undefined;
  /** Dial the configured seeds (nothing was dialable and the book needs addresses). */
  readonly dialSeeds: boolean;
}

/** What to do when the book runs low: ask one random peer (ticks only), and dial seeds as a last resort. */
export function planRefill<P>(input: RefillInput<P>): RefillPlan<P> {
  if (!input.needMoreAddrs) return { requestFrom: undefined, dialSeeds: false };
  const requestFrom =
    input.periodElapsed && input.requestablePeers.length > 0
      ? input.requestablePeers[input.randomIndex(input.requestablePeers.length)]
      : undefined;
  return { requestFrom, dialSeeds: input.chosenCount === 0 && input.seedsConfigured };
}

/**
 * Delay of the first round: none when we have no peer and no dial in progress (get connected at
 * once); otherwise a uniform random delay in [0, periodMs), so nodes restarted together spread out.
 */
export function firstRoundDelayMs(counts: PeerCounts, periodMs: number, uniform01: number): number {
  if (counts.outbound + counts.inbound + counts.dialing === 0) return 0;
  return Math.floor(uniform01 * periodMs);
}
