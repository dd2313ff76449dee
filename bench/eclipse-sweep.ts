/**
 * The long ECLIPSE-FLOOD sweep (not run by CI or `npm run bench`, which only runs *.bench.js):
 * every design option against the experiment's attacks. Run with
 *   npm run build && node dist/bench/eclipse-sweep.js          (all designs x 5 attacks, 10 000 restarts)
 *   node dist/bench/eclipse-sweep.js quick                     (2 attacks, 2 000 restarts)
 *   node dist/bench/eclipse-sweep.js seeds                     (default design, 10 seeds x 10 000 restarts, pooled)
 * Prints one JSON line per (design, attack).
 */
import { runEclipseFlood, upper95, type EclipseParams } from './eclipse-flood.js';
import type { AddrBookLayout } from '../addrbook/params.js';

const designs: Record<string, Partial<AddrBookLayout>> = {
  'switchyard (default)': {},
  'cometbft-like': { fullBucketPolicy: 'evict-oldest', pickWithin: 'bucket' },
  'cometbft-like, pick by entry': { fullBucketPolicy: 'evict-oldest' },
  'bitcoin-like 1024/256, hashed slot, pick by slot': { newBucketCount: 1024, oldBucketCount: 256, slotPolicy: 'hashed', pickWithin: 'slot', newBucketsPerGroup: 64, maxNewBucketsPerAddress: 8 },
  'hashed slot 256/64, pick by slot': { slotPolicy: 'hashed', pickWithin: 'slot' },
  'hashed slot 256/64, pick by entry': { slotPolicy: 'hashed' },
  'any free slot, pick by bucket': { pickWithin: 'bucket' },
  'any free slot, pick by slot': { pickWithin: 'slot' },
  'any free slot, 1024 new buckets': { newBucketCount: 1024, newBucketsPerGroup: 64 },
  'any free slot, 1 new bucket per address': { maxNewBucketsPerAddress: 1 },
};

if (process.argv.includes('seeds')) {
  for (const promoted of [0, 1_000]) {
    let eclipses = 0;
    let restarts = 0;
    let worstShare = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const r = runEclipseFlood({ attackerAddrs: 20_000, attackerGroups: 256, attackerSources: 64, promoted, seed });
      eclipses += r.eclipses;
      restarts += r.restarts;
      worstShare = Math.max(worstShare, r.attackerShareNew);
    }
    process.stdout.write(JSON.stringify({ design: 'switchyard (default)', K: promoted, seeds: 10, restarts, eclipses, pEclipse: eclipses / restarts, upper95: +upper95(eclipses, restarts).toFixed(6), worstShareNew: +worstShare.toFixed(3) }) + '\n');
  }
  process.exit(0);
}

const quick = process.argv.includes('quick');
const attacks: EclipseParams[] = [
  { attackerAddrs: 20_000, attackerGroups: 256, attackerSources: 64, promoted: 0 },
  { attackerAddrs: 20_000, attackerGroups: 256, attackerSources: 64, promoted: 1_000 },
  ...(quick
    ? []
    : [
        { attackerAddrs: 100_000, attackerGroups: 1024, attackerSources: 256, promoted: 0 },
        { attackerAddrs: 100_000, attackerGroups: 1024, attackerSources: 256, promoted: 1_000 },
        { attackerAddrs: 5_000, attackerGroups: 64, attackerSources: 16, promoted: 0 },
      ]),
];

for (const [design, layout] of Object.entries(designs)) {
  for (const attack of attacks) {
    const started = performance.now();
    const r = runEclipseFlood({ ...attack, restarts: quick ? 2_000 : 10_000, book: { layout } });
    process.stdout.write(
      JSON.stringify({
        design,
        A: attack.attackerAddrs,
        G: attack.attackerGroups,
        S: attack.attackerSources,
        K: attack.promoted,
        shareNew: +r.attackerShareNew.toFixed(3),
        shareOld: +r.attackerShareOld.toFixed(3),
        nNew: r.nNew,
        nOld: r.nOld,
        outbound: +r.meanAttackerOutboundFraction.toFixed(3),
        pEclipse: r.pEclipse,
        upper95: +r.pEclipseUpper95.toFixed(5),
        honestNew: r.honestNew,
        honestLost: r.honestLostToFlood,
        promotedOld: r.promotedOld,
        seconds: +((performance.now() - started) / 1000).toFixed(1),
      }) + '\n',
    );
  }
}
