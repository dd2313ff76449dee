/**
 * Noise filter for benchmarks on a shared host: how long this thread was runnable but waiting for
 * a CPU (another process had it) while a pass ran. On a 2-vCPU machine shared with other work a
 * pass can lose half its wall time that way, which no number of passes averages out when the
 * load comes in bursts. Passes are kept or dropped by that figure alone, never by their result,
 * so what a benchmark measures does not change: only passes the machine disturbed are dropped.
 *
 * Linux exposes the figure per thread in /proc/thread-self/schedstat (ns on CPU, ns waiting on
 * the run queue, time slices). Elsewhere every pass counts as undisturbed. It cannot see a
 * neighbour slowing us down without taking our CPU (a busy sibling vCPU, another guest on the
 * host); alternating a measurement with its baseline is what evens that out.
 */
import { readFileSync } from 'node:fs';

/** Nanoseconds this thread has waited on the run queue so far, or undefined where unknown. */
export function runQueueWaitNs(): number | undefined {
  try {
    const fields = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    const wait = Number(fields[1]);
    return Number.isFinite(wait) ? wait : undefined;
  } catch {
    return undefined;
  }
}

export interface PassResult {
  value: number;
  /** Share of the pass's wall time this thread spent waiting for a CPU (0 where unknown). */
  waitFraction: number;
}

/** Runs one pass and records how much of it the thread spent waiting for a CPU. */
export async function timedPass(run: () => number | Promise<number>): Promise<PassResult> {
  const w0 = runQueueWaitNs();
  const t0 = process.hrtime.bigint();
  const value = await run();
  const wallNs = Number(process.hrtime.bigint() - t0);
  const w1 = runQueueWaitNs();
  return { value, waitFraction: w0 === undefined || w1 === undefined || wallNs <= 0 ? 0 : (w1 - w0) / wallNs };
}

/** A pass that waited less than this share of its time for a CPU counts as undisturbed. */
export const MAX_CLEAN_WAIT_FRACTION = 0.03;

export function isClean(r: PassResult): boolean {
  return r.waitFraction < MAX_CLEAN_WAIT_FRACTION;
}

/** The values of the `want` least-disturbed passes (all of them if there are fewer). */
export function leastDisturbed(results: PassResult[], want: number): number[] {
  return [...results]
    .sort((a, b) => a.waitFraction - b.waitFraction)
    .slice(0, want)
    .map((r) => r.value);
}

/**
 * Alternates the given passes (for example a measurement and its baseline) until each has
 * `want` undisturbed passes or `maxRounds` rounds have run; returns, per pass kind, the values
 * of its `want` least-disturbed passes and how many of its passes were disturbed.
 */
export async function alternateUntilClean(
  kinds: Array<() => number | Promise<number>>,
  want: number,
  maxRounds: number,
): Promise<Array<{ values: number[]; all: number[]; disturbed: number; total: number }>> {
  const results: PassResult[][] = kinds.map(() => []);
  for (let round = 0; round < maxRounds; round++) {
    for (let k = 0; k < kinds.length; k++) results[k].push(await timedPass(kinds[k]));
    if (round + 1 >= want && results.every((rs) => rs.filter(isClean).length >= want)) break;
  }
  return results.map((rs) => ({
    values: leastDisturbed(rs, want),
    all: rs.map((r) => r.value),
    disturbed: rs.filter((r) => !isClean(r)).length,
    total: rs.length,
  }));
}
