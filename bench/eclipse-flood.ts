/**
 * ECLIPSE-FLOOD (../shared/reference/eclipse-experiment.md): how often does a node whose address
 * book was flooded by an attacker end up with every outbound slot on the attacker after a restart?
 * Runs against AddrBook's public API only, seeded, on a VirtualClock. Shared by the CI test
 * (test/addrbook/eclipse-flood.test.ts) and the long sweep (bench/eclipse-sweep.ts).
 */
import { AddrBook, type AddrBookOptions } from '../addrbook/addr-book.js';
import { VirtualClock } from '../p2p/clock.js';
import { SeededRng } from '../p2p/rng.js';
import { NetAddress } from '../p2p/net-address.js';

export interface EclipseParams {
  /** Attacker addresses. */
  attackerAddrs: number;
  /** /16 groups they are spread over. */
  attackerGroups: number;
  /** Source groups the attacker announces through. */
  attackerSources: number;
  /** Announcements of each attacker address. Default 3. */
  announcements?: number;
  /** Attacker addresses promoted to the old table (markGood). */
  promoted: number;
  /** Restarts (fresh picks on the same book). Default 10 000. */
  restarts?: number;
  honestNew?: number; // 12 000
  honestNewGroups?: number; // 3 000
  honestSources?: number; // 100
  honestNewOnline?: number; // 0.5
  honestOld?: number; // 1 500
  honestOldOnline?: number; // 0.7
  outboundSlots?: number; // 10
  seed?: number;
  /** AddrBook options under test (layout etc.). */
  book?: AddrBookOptions;
}

export interface EclipseResult {
  attackerShareNew: number;
  attackerShareOld: number;
  nNew: number;
  nOld: number;
  meanAttackerOutboundFraction: number;
  eclipses: number;
  restarts: number;
  pEclipse: number;
  /** One-sided 95 % upper confidence bound on P(eclipse). */
  pEclipseUpper95: number;
  /**
   * Honest entries present before the flood and gone after it. The whole run spans far less than
   * the 7 days after which an untried entry turns terrible, and no honest entry is ever dialled, so
   * no honest entry is terrible: every loss is a non-terrible incumbent evicted by the flood.
   */
  honestLostToFlood: number;
  /** Honest entries in the new table after the flood. */
  honestNew: number;
  /** Attacker addresses that actually got promoted to the old table. */
  promotedOld: number;
}

const id = (prefix: string, n: number): string => (prefix + n.toString(16)).padStart(40, '0');

/** Public space only: honest addresses in 20-39.x, honest sources in 40.x, attacker in 150-169.x / 180.x. */
function ipIn(firstOctetBase: number, group: number, host: number): string {
  return `${firstOctetBase + (group >> 8)}.${group & 0xff}.${(host >> 8) & 0xff}.${host & 0xff}`;
}

/** One-sided 95 % upper bound for a binomial proportion (exact for 0 events, Wilson otherwise). */
export function upper95(events: number, trials: number): number {
  if (trials === 0) return 1;
  if (events === 0) return 1 - Math.pow(0.05, 1 / trials);
  const z = 1.645;
  const p = events / trials;
  const denom = 1 + (z * z) / trials;
  const centre = p + (z * z) / (2 * trials);
  const margin = z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials));
  return Math.min(1, (centre + margin) / denom);
}

export function runEclipseFlood(params: EclipseParams): EclipseResult {
  const p = {
    announcements: 3,
    restarts: 10_000,
    honestNew: 12_000,
    honestNewGroups: 3_000,
    honestSources: 100,
    honestNewOnline: 0.5,
    honestOld: 1_500,
    honestOldOnline: 0.7,
    outboundSlots: 10,
    seed: 1,
    ...params,
  };
  const rng = new SeededRng(p.seed);
  const clock = new VirtualClock(1_700_000_000_000);
  const key = Array.from(rng.bytes(12), (b) => b.toString(16).padStart(2, '0')).join('');
  const book = new AddrBook({ clock, rng: rng.fork() }, { key, ...(p.book ?? {}) });
  const setup = rng.fork();

  const honestSrc = Array.from({ length: p.honestSources }, (_, s) => new NetAddress(id('4', s), ipIn(40, s, 1), 26656));
  const online = new Set<string>();
  const honest: NetAddress[] = [];
  // Honest history, learned over time (about 100 ms of virtual time per address): first the peers
  // we connected to (added, then marked good), then the rest of what PEX told us.
  for (let i = 0; i < p.honestOld; i++) {
    const g = (i * 7) % p.honestNewGroups;
    const a = new NetAddress(id('2', i), ipIn(20, g, 40_000 + i), 26656);
    honest.push(a);
    if (setup.float() < p.honestOldOnline) online.add(a.id);
    book.addAddress(a, honestSrc[setup.int(p.honestSources)]);
    book.markGood(a.id);
    clock.advance(100);
  }
  for (let i = 0; i < p.honestNew; i++) {
    const g = i % p.honestNewGroups;
    const a = new NetAddress(id('1', i), ipIn(20, g, 1 + Math.floor(i / p.honestNewGroups)), 26656);
    honest.push(a);
    if (setup.float() < p.honestNewOnline) online.add(a.id);
    book.addAddress(a, honestSrc[setup.int(p.honestSources)]);
    clock.advance(100);
  }
  const presentBefore = honest.filter((a) => book.hasAddress(a));

  // The flood: every attacker address announced R times, each time through a random attacker source group.
  const attackerSrc = Array.from({ length: p.attackerSources }, (_, s) => new NetAddress(id('5', s), ipIn(180, s, 1), 26656));
  const attacker: NetAddress[] = [];
  for (let j = 0; j < p.attackerAddrs; j++) {
    attacker.push(new NetAddress(id('3', j), ipIn(150, j % p.attackerGroups, 1 + Math.floor(j / p.attackerGroups)), 26656));
  }
  // The flood comes later and faster (10 ms of virtual time per announcement): newer than every
  // honest entry, which is what lets "evict the oldest" designs push honest entries out.
  clock.advance(60 * 60 * 1000);
  for (let r = 0; r < p.announcements; r++) {
    for (const a of attacker) {
      book.addAddress(a, attackerSrc[setup.int(p.attackerSources)]);
      clock.advance(10);
    }
  }
  // K attacker addresses get vetted (an inbound attacker relaying consensus traffic is marked good).
  let promotedOld = 0;
  for (const a of attacker) {
    if (promotedOld >= p.promoted) break;
    if (!book.hasAddress(a)) continue;
    book.markGood(a.id);
    if (book.isGood(a)) promotedOld++;
  }

  // Figures about the book.
  const counts = book.counts();
  let attackerNew = 0;
  let attackerOld = 0;
  for (const a of attacker) {
    if (!book.hasAddress(a)) continue;
    if (book.isGood(a)) attackerOld++;
    else attackerNew++;
  }
  let honestLostToFlood = 0;
  for (const a of presentBefore) if (!book.hasAddress(a)) honestLostToFlood++;

  // Restarts: fill the outbound slots with the PEX bias; offline honest picks fail and are retried.
  const attackerIds = new Set(attacker.map((a) => a.id));
  let eclipses = 0;
  let attackerSlotsTotal = 0;
  for (let r = 0; r < p.restarts; r++) {
    const connected = new Set<string>();
    let attackerSlots = 0;
    let filled = 0;
    for (let slot = 0; slot < p.outboundSlots; slot++) {
      const bias = Math.min(filled, 8) * 10 + 10;
      let done = false;
      for (let tries = 0; tries < 10_000 && !done; tries++) {
        const a = book.pickAddress(bias);
        if (a === undefined) continue;
        if (connected.has(a.id)) continue;
        if (attackerIds.has(a.id)) {
          attackerSlots++;
        } else if (!online.has(a.id)) {
          continue;
        }
        connected.add(a.id);
        done = true;
      }
      if (done) filled++;
    }
    attackerSlotsTotal += attackerSlots;
    if (filled > 0 && attackerSlots === filled) eclipses++;
  }
  return {
    attackerShareNew: counts.new === 0 ? 0 : attackerNew / counts.new,
    attackerShareOld: counts.old === 0 ? 0 : attackerOld / counts.old,
    nNew: counts.new,
    nOld: counts.old,
    meanAttackerOutboundFraction: attackerSlotsTotal / (p.restarts * p.outboundSlots),
    eclipses,
    restarts: p.restarts,
    pEclipse: eclipses / p.restarts,
    pEclipseUpper95: upper95(eclipses, p.restarts),
    honestLostToFlood,
    honestNew: counts.new - attackerNew,
    promotedOld,
  };
}
