/**
 * The arithmetic of picks and selections, kept pure: how many addresses a selection holds, how
 * the old/new choice is weighted, and sampling without replacement.
 */
import type { Rng } from '../p2p/rng.js';
import { GET_SELECTION_PERCENT, MAX_GET_SELECTION, MIN_GET_SELECTION } from './params.js';

/** max(min(32, size), floor(size * 23 / 100)), capped at 250. */
export function selectionSize(bookSize: number): number {
  const n = Math.max(Math.min(MIN_GET_SELECTION, bookSize), Math.floor((bookSize * GET_SELECTION_PERCENT) / 100));
  return Math.min(MAX_GET_SELECTION, n);
}

/** Bias towards new addresses, clamped to [0, 100] (NaN counts as 0). */
export function clampBias(bias: number): number {
  if (!(bias > 0)) return 0;
  return bias > 100 ? 100 : bias;
}

/**
 * CometBFT's weighting: old with weight sqrt(nOld) * (100 - bias), new with sqrt(nNew) * bias.
 * `u` is a uniform draw in [0, 1). Returns true for the old table.
 */
export function chooseOld(u: number, nOld: number, nNew: number, bias: number): boolean {
  const oldCorrelation = Math.sqrt(nOld) * (100 - bias);
  const newCorrelation = Math.sqrt(nNew) * bias;
  return u * (oldCorrelation + newCorrelation) < oldCorrelation;
}

/** How many new addresses a biased selection of `n` wants first: max(round(bias% of n), n - nOld). */
export function wantedNew(n: number, nOld: number, bias: number): number {
  return Math.max(Math.round((bias / 100) * n), n - nOld);
}

/**
 * `count` distinct indices of [0, total) in random order, mapped through `map` (partial
 * Fisher–Yates over a virtual array, so the cost is O(count), not O(total)).
 */
export function sampleIndices<R>(rng: Rng, total: number, count: number, map: (index: number) => R): R[] {
  const n = Math.max(0, Math.min(count, total));
  const out: R[] = new Array<R>(n);
  // swapped.get(i) = the index standing at position i of the virtual array, when moved.
  const swapped = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(total - i);
    const atJ = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out[i] = map(atJ);
  }
  return out;
}

/** `count` distinct items of `items` in random order, mapped through `map`. */
export function sampleDistinct<T, R>(rng: Rng, items: readonly T[], count: number, map: (item: T) => R): R[] {
  return sampleIndices(rng, items.length, count, (i) => map(items[i]));
}
