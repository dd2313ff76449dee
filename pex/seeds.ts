/**
 * Seed addresses: checked when the configuration is read, resolved when the reactor starts.
 *
 * A seed that is not `id@host:port` is a configuration error and fails at once, naming the entry.
 * A seed whose host name does not resolve is only reported: DNS may come back, and other seeds or
 * the address book may be enough. If seeds were configured, none resolved and the book is empty,
 * the node has nowhere to start: that is a typed start failure (CometBFT's checkSeeds rule).
 */
import {
  ErrNetAddressLookupNeeded,
  NetAddress,
  type HostLookup,
} from '../p2p/net-address.js';
import { ErrPexNoReachableSeeds, ErrPexSeedConfig } from './errors.js';

export interface ResolvedSeeds {
  readonly addresses: NetAddress[];
  /** Seeds with a valid form whose host did not resolve, with the lookup error. */
  readonly unresolved: { seed: string; error: Error }[];
}

/**
 * Checks the form of every seed without any DNS lookup (host names are allowed). Throws
 * ErrPexSeedConfig for the first malformed entry.
 */
export function validateSeedList(seeds: readonly string[]): void {
  for (const seed of seeds) {
    try {
      NetAddress.parse(seed);
    } catch (err) {
      if (err instanceof ErrNetAddressLookupNeeded) continue;
      throw new ErrPexSeedConfig(seed, err instanceof Error ? err.message : String(err));
    }
  }
}

/** Parses and resolves the seeds. Malformed entries throw ErrPexSeedConfig; lookups that fail are listed. */
export async function resolveSeeds(seeds: readonly string[], lookup?: HostLookup): Promise<ResolvedSeeds> {
  validateSeedList(seeds);
  const addresses: NetAddress[] = [];
  const unresolved: { seed: string; error: Error }[] = [];
  const results = await Promise.allSettled(seeds.map((seed) => NetAddress.resolve(seed, lookup)));
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') addresses.push(r.value);
    else unresolved.push({ seed: seeds[i], error: r.reason instanceof Error ? r.reason : new Error(String(r.reason)) });
  });
  return { addresses, unresolved };
}

/** The start rule: seeds configured, none resolved, empty book → ErrPexNoReachableSeeds. */
export function checkSeedsUsable(seeds: readonly string[], resolved: ResolvedSeeds, bookEmpty: boolean): void {
  if (seeds.length > 0 && resolved.addresses.length === 0 && bookEmpty) throw new ErrPexNoReachableSeeds(seeds);
}
