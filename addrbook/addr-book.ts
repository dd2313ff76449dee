/**
 * AddrBook: the addresses this node knows, in a "new" table (heard of, never connected) and an
 * "old" table (connected successfully), each made of fixed-size buckets chosen by a keyed hash of
 * the address's and the source's network groups. PEX and the Switch feed it; ensurePeers picks
 * from it. CometBFT's behaviour and weighting are kept; its eviction rules are not: a full bucket
 * keeps its incumbents unless they are terrible (new table) or failed their last dial (old table),
 * which is what makes a flood of fresh attacker addresses unable to push honest ones out.
 * spec/addrbook.md has the rules and the measurements behind them.
 */
import { existsSync, readFileSync, renameSync, copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../p2p/clock.js';
import type { Rng } from '../p2p/rng.js';
import { type Logger, silentLogger } from '../p2p/logger.js';
import { NetAddress } from '../p2p/net-address.js';
import { isValidNodeId } from '../p2p/node-id.js';
import { BucketTable } from './bucket-table.js';
import { groupKey, groupKeyOfIp } from './group-key.js';
import { KnownAddress } from './known-address.js';
import {
  type AddrBookLayout,
  BUCKET_TYPE_NEW,
  BUCKET_TYPE_OLD,
  DEFAULT_LAYOUT,
  DUMP_ADDRESS_INTERVAL_MS,
  MAX_BANNED_ENTRIES,
  NEED_ADDRESS_THRESHOLD,
} from './params.js';
import { PlacementHasher } from './placement-hash.js';
import { BOOK_KEY_PATTERN, type DecodedBook, decodeBook, type RawEntry } from './persistence.js';
import { type AtomicWriteAsyncFs, realAsyncFs, writeFileAtomic, writeFileAtomicAsync } from './atomic-write.js';
import { type BookSnapshot, encodeSnapshot, encodeSnapshotSlices, takeSnapshot } from './book-snapshot.js';
import { scanBook } from './book-scanner.js';
import { chooseOld, clampBias, sampleDistinct, sampleIndices, selectionSize, wantedNew } from './selection.js';
import { checkBookInvariants } from './invariants.js';
import {
  ErrAddrBookFileCorrupt,
  ErrAddrBookInvalidAddr,
  ErrAddrBookNilAddr,
  ErrAddrBookNonRoutable,
  ErrAddrBookOption,
  ErrAddrBookPrivate,
  ErrAddrBookPrivateSrc,
  ErrAddrBookSaveAbandoned,
  ErrAddrBookSelf,
  ErrAddressBanned,
} from './errors.js';

/** Bound of the group-key cache (entries); it is simply cleared when full. */
const GROUP_CACHE_LIMIT = 8192;

/**
 * Entries encoded per slice of an asynchronous save: each slice is one event-loop block (median
 * 0.5 ms for 200 entries on the 2-vCPU machine; 500 took 1.7 ms, 1000 took 5.5 ms), and its write
 * to the temporary file lets the loop run before the next. Smaller slices only add write calls:
 * the snapshot (about 1.5 ms at full tables) is the longer block anyway. See addrbook_save_block_ms
 * in bench/addrbook.bench.ts.
 */
const SAVE_ENTRIES_PER_SLICE = 200;

interface SaveWaiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface AddrBookDeps {
  clock: Clock;
  rng: Rng;
  logger?: Logger;
  /** File calls of the asynchronous save (default: node:fs promises). Tests inject disk failures. */
  saveFs?: AtomicWriteAsyncFs;
}

export interface AddrBookOptions {
  /** Where addrbook.json lives. Without it the book is memory-only (save/start/stop touch no file). */
  filePath?: string;
  /** Refuse addresses that are not publicly routable, and group local/unroutable ones apart. Default true. */
  routabilityStrict?: boolean;
  /** Interval of the background save (only when something changed). Default 120 000 ms. */
  saveIntervalMs?: number;
  /**
   * The 24-hex book key that seeds placement. Default: fresh OS entropy (not the injected Rng: the
   * key must be secret). A loaded file's key replaces it. Tests and simulations pass a fixed one.
   */
  key?: string;
  /** Table layout and policies (defaults: DEFAULT_LAYOUT). For experiments; change with care. */
  layout?: Partial<AddrBookLayout>;
}

/** Outcome of loading the file at start(), for callers and tests that want to know. */
export interface AddrBookLoadReport {
  /** 'missing': no file; 'loaded': read (maybe with skipped entries); 'corrupt': moved aside, book empty. */
  status: 'missing' | 'loaded' | 'corrupt';
  loaded: number;
  banned: number;
  /** Entries that could not be read or placed. */
  skipped: number;
  /** Entries whose saved buckets did not fit our layout and were placed afresh by our hash. */
  replaced: number;
  /**
   * For 'corrupt' (moved) or skipped entries (copied): where the original file is kept. The move
   * or copy happens at the first save, not at load, so an abandoned start changes nothing on disk.
   */
  keptAsidePath?: string;
}

export class AddrBook {
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly log: Logger;
  readonly filePath: string | undefined;
  readonly routabilityStrict: boolean;
  readonly layout: Readonly<AddrBookLayout>;
  private readonly saveIntervalMs: number;

  private bookKey: string;
  private hasher: PlacementHasher;
  private readonly newTable: BucketTable;
  private readonly oldTable: BucketTable;
  /** Every stored (not banned) entry by node ID. */
  private readonly byId = new Map<string, KnownAddress>();
  /** Banned entries by node ID; out of every bucket until reinstated. */
  private readonly banned = new Map<string, KnownAddress>();
  private readonly ourAddrs = new Set<string>();
  private readonly privateIds = new Set<string>();
  private readonly groupCache = new Map<string, string>();

  private dirty = false;
  private started = false;
  private readonly saveFs: AtomicWriteAsyncFs;
  /** Snapshots taken so far (sync and async saves); each save's snapshot gets the next number. */
  private saveSeq = 0;
  /** The newest snapshot on disk: an older one still in flight must not replace it. */
  private committedSeq = 0;
  /** Snapshots up to this number were abandoned by stop({ save: false }) and must not be written. */
  private abandonedSeq = 0;
  /** The asynchronous save under way (never rejects; settles after its follow-up was started). */
  private inFlight: Promise<void> | undefined;
  /** Saves requested while one was in flight: coalesced into one more save after it. */
  private followUp: { explicit: boolean; waiters: SaveWaiter[] } | undefined;
  private saveTimer: ReturnType<Clock['setInterval']> | undefined;
  /** Set when a bad file could not be moved aside: we then refuse to overwrite it. */
  private saveBlockedReason: string | undefined;
  /** A file found bad at load, to move or copy aside right before the first save overwrites it. */
  private pendingAside: { how: 'move' | 'copy'; to: string; reason: string } | undefined;

  constructor(deps: AddrBookDeps, options: AddrBookOptions = {}) {
    if (!deps || typeof deps.clock?.now !== 'function') throw new ErrAddrBookOption('deps.clock', 'a Clock', deps?.clock);
    if (typeof deps.rng?.float !== 'function') throw new ErrAddrBookOption('deps.rng', 'an Rng', deps.rng);
    this.clock = deps.clock;
    this.rng = deps.rng;
    this.saveFs = deps.saveFs ?? realAsyncFs;
    this.log = (deps.logger ?? silentLogger).child({ module: 'addrbook' });
    if (options.filePath !== undefined && (typeof options.filePath !== 'string' || options.filePath === '')) {
      throw new ErrAddrBookOption('filePath', 'a non-empty path string', options.filePath);
    }
    this.filePath = options.filePath;
    if (options.routabilityStrict !== undefined && typeof options.routabilityStrict !== 'boolean') {
      throw new ErrAddrBookOption('routabilityStrict', 'a boolean', options.routabilityStrict);
    }
    this.routabilityStrict = options.routabilityStrict ?? true;
    const interval = options.saveIntervalMs ?? DUMP_ADDRESS_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval <= 0) throw new ErrAddrBookOption('saveIntervalMs', 'a positive number of milliseconds', interval);
    this.saveIntervalMs = interval;
    if (options.key !== undefined && (typeof options.key !== 'string' || !BOOK_KEY_PATTERN.test(options.key))) {
      throw new ErrAddrBookOption('key', '24 lowercase hex characters', options.key);
    }
    this.bookKey = options.key ?? randomBytes(12).toString('hex');
    this.layout = Object.freeze(validateLayout({ ...DEFAULT_LAYOUT, ...(options.layout ?? {}) }));
    this.hasher = new PlacementHasher(this.bookKey);
    this.newTable = new BucketTable(BUCKET_TYPE_NEW, this.layout.newBucketCount, this.layout.bucketSize);
    this.oldTable = new BucketTable(BUCKET_TYPE_OLD, this.layout.oldBucketCount, this.layout.bucketSize);
  }

  /** The book key (saved in the file; seeds placement). */
  get key(): string {
    return this.bookKey;
  }

  // ---------------------------------------------------------------- own and private addresses

  /** Remembers one of our own addresses ('id@ip:port' must match exactly); it is never stored. */
  addOurAddress(addr: NetAddress): void {
    this.ourAddrs.add(addr.toString());
    const ka = this.byId.get(addr.id);
    if (ka !== undefined && ka.key === addr.toString()) this.forget(ka);
  }

  /** Whether `addr` is one of our own addresses. */
  ourAddress(addr: NetAddress): boolean {
    return this.ourAddrs.has(addr.toString());
  }

  /** IDs never stored, and whose gossip is never stored either. Already-stored entries with them are dropped. */
  addPrivateIDs(ids: readonly string[]): void {
    for (const id of ids) {
      this.privateIds.add(id);
      const ka = this.byId.get(id);
      if (ka !== undefined) this.forget(ka);
    }
  }

  // ---------------------------------------------------------------- adding and removing

  /**
   * Adds `addr`, learned from `src`, to a new bucket. Throws a subclass of ErrAddrBookRefused when
   * the address may not be stored (invalid, banned, private, ours, non-routable in strict mode).
   * Returns true when the book changed (new entry, or an extra bucket for a known one), false when
   * it quietly kept what it had: the ID is known and vetted (old), already in enough buckets, the
   * extra-bucket lottery said no, or the target bucket is full of entries that are not terrible.
   */
  addAddress(addr: NetAddress, src: NetAddress): boolean {
    if (addr === undefined || addr === null) throw new ErrAddrBookNilAddr('addr');
    if (src === undefined || src === null) throw new ErrAddrBookNilAddr('src');
    // One validation pass: routable() implies valid(), and only a refusal needs the reason.
    const strict = this.routabilityStrict;
    const routable = strict ? addr.routable() : true;
    if (!routable || !strict) {
      const problem = addr.validProblem();
      if (problem !== undefined) throw new ErrAddrBookInvalidAddr(addr.toString(), problem);
    }
    const ban = this.banned.get(addr.id);
    if (ban !== undefined) throw new ErrAddressBanned(addr.toString(), ban.lastBanTimeMs);
    if (this.privateIds.size > 0) {
      if (this.privateIds.has(addr.id)) throw new ErrAddrBookPrivate(addr.toString());
      if (this.privateIds.has(src.id)) throw new ErrAddrBookPrivateSrc(addr.toString(), src.toString());
    }
    if (this.ourAddrs.size > 0 && this.ourAddrs.has(addr.toString())) throw new ErrAddrBookSelf(addr.toString());
    if (!routable) throw new ErrAddrBookNonRoutable(addr.toString());

    const now = this.clock.now();
    const existing = this.byId.get(addr.id);
    if (existing !== undefined) {
      // A vetted ID is never re-pointed by gossip: that is how an eclipse would redirect it.
      if (existing.isOld()) return false;
      const n = existing.buckets.length;
      if (n >= this.layout.maxNewBucketsPerAddress) return false;
      // Each extra bucket gets harder to earn: probability 1 / (2 * buckets held).
      if (n > 0 && this.rng.int(2 * n) !== 0) return false;
    }
    // The bucket comes from the stored address's group and this announcement's source group.
    const stored = existing?.addr ?? addr;
    const bucket = this.hasher.newBucket(
      this.addrGroup(stored),
      this.srcGroup(src),
      this.layout.newBucketsPerGroup,
      this.layout.newBucketCount,
    );
    if (existing !== undefined && existing.buckets.includes(bucket)) return false;
    // Cheap refusal before allocating anything: a full bucket with no possible victim.
    if (this.layout.slotPolicy === 'any-free' && this.newTable.isFull(bucket) && this.newVictim(bucket, now) === undefined) return false;
    const ka = existing ?? new KnownAddress(addr, src, now);
    if (!this.placeNew(ka, bucket, now)) return false;
    this.byId.set(ka.id, ka);
    this.dirty = true;
    return true;
  }

  /** Removes the entry with `addr`'s ID, if any. Bans are not lifted. */
  removeAddress(addr: NetAddress): void {
    const ka = this.byId.get(addr.id);
    if (ka === undefined) return;
    this.forget(ka);
  }

  /** Whether an entry with `addr`'s ID is stored (banned ones are not). */
  hasAddress(addr: NetAddress): boolean {
    return this.byId.has(addr.id);
  }

  /** True while the book holds fewer than 1000 addresses. */
  needMoreAddrs(): boolean {
    return this.size() < NEED_ADDRESS_THRESHOLD;
  }

  size(): number {
    return this.newTable.entries.length + this.oldTable.entries.length;
  }

  empty(): boolean {
    return this.size() === 0;
  }

  /** Number of entries in the new table and in the old table. */
  counts(): { new: number; old: number; banned: number } {
    return { new: this.newTable.entries.length, old: this.oldTable.entries.length, banned: this.banned.size };
  }

  /** Whether the entry with `addr`'s ID is in the old table (we connected to it successfully). */
  isGood(addr: NetAddress): boolean {
    return this.byId.get(addr.id)?.isOld() ?? false;
  }

  // ---------------------------------------------------------------- picking

  /**
   * A random address to dial: the old or the new table weighted by sqrt(size) times the bias
   * (0 = only old, 100 = only new; clamped), then an entry of that table. undefined when the
   * chosen table is empty.
   */
  pickAddress(biasTowardsNewAddrs: number): NetAddress | undefined {
    const nNew = this.newTable.entries.length;
    const nOld = this.oldTable.entries.length;
    if (nNew + nOld === 0) return undefined;
    const bias = clampBias(biasTowardsNewAddrs);
    const table = chooseOld(this.rng.float(), nOld, nNew, bias) ? this.oldTable : this.newTable;
    if (table.entries.length === 0) return undefined;
    return this.pickIn(table).addr;
  }

  /** About 23 % of the book (at least 32 or all, at most 250), uniformly chosen and shuffled. */
  getSelection(): NetAddress[] {
    const nNew = this.newTable.entries.length;
    const size = nNew + this.oldTable.entries.length;
    if (size === 0) return [];
    const n = selectionSize(size);
    const newEntries = this.newTable.entries;
    const oldEntries = this.oldTable.entries;
    return sampleIndices(this.rng, size, n, (i) => (i < nNew ? newEntries[i] : oldEntries[i - nNew]).addr);
  }

  /**
   * The same number of addresses as getSelection, new ones first: max(round(bias% of n), n - nOld)
   * from the new table (as many as it has), the rest from the old table.
   */
  getSelectionWithBias(biasTowardsNewAddrs: number): NetAddress[] {
    const nNew = this.newTable.entries.length;
    const nOld = this.oldTable.entries.length;
    const size = nNew + nOld;
    if (size === 0) return [];
    const bias = clampBias(biasTowardsNewAddrs);
    const n = selectionSize(size);
    const picked = sampleDistinct(this.rng, this.newTable.entries, wantedNew(n, nOld, bias), (ka) => ka.addr);
    const fromOld = sampleDistinct(this.rng, this.oldTable.entries, n - picked.length, (ka) => ka.addr);
    for (const a of fromOld) picked.push(a);
    return picked;
  }

  // ---------------------------------------------------------------- dial outcomes and bans

  /** A successful connection: clears attempts, and moves a new entry to the old table if room allows. */
  markGood(id: string): void {
    const ka = this.byId.get(id);
    if (ka === undefined) return;
    const now = this.clock.now();
    ka.markGood(now);
    this.dirty = true;
    if (ka.isNew()) this.moveToOld(ka, now);
  }

  /** A dial attempt: counts it and stamps the time. */
  markAttempt(addr: NetAddress): void {
    const ka = this.byId.get(addr.id);
    if (ka === undefined) return;
    ka.markAttempt(this.clock.now());
    // More failures can make it terrible sooner: its buckets must be rescanned.
    if (ka.isNew()) for (const b of ka.buckets) this.newTable.noVictimBeforeMs[b] = 0;
    this.dirty = true;
  }

  /**
   * Bans `addr`'s node ID for `banTimeMs`: a stored entry leaves every bucket, the ID cannot be
   * (re-)added, and the ban stays in the ban list (saved in the file) until reinstateBadPeers finds
   * it over or unban lifts it. An ID already banned keeps the later of both end times.
   *
   * Unlike CometBFT, an ID the book does not hold is banned too (CometBFT ignores it, so a peer
   * that misbehaved on an inbound connection, typically one we never stored, could have its
   * address gossiped straight back in): a ban record is kept with `addr` as its address. Such a
   * record returns to the book when the ban ends only if the address is one the book would accept
   * (valid, routable in strict mode, not private, not ours); otherwise it is simply dropped. The ban
   * list is bounded (MAX_BANNED_ENTRIES, the ban ending soonest goes first). Our own addresses and
   * addresses with an invalid ID are not banned.
   */
  markBad(addr: NetAddress, banTimeMs: number): void {
    if (!Number.isFinite(banTimeMs)) throw new ErrAddrBookOption('banTimeMs', 'a finite number of milliseconds', banTimeMs);
    if (addr === undefined || addr === null) throw new ErrAddrBookNilAddr('addr');
    const now = this.clock.now();
    const duration = Math.max(0, banTimeMs);
    const ka = this.byId.get(addr.id);
    if (ka !== undefined) {
      ka.ban(now, duration);
      this.forget(ka);
      this.banned.set(ka.id, ka);
      this.dirty = true;
      this.enforceBanLimit();
      return;
    }
    const already = this.banned.get(addr.id);
    if (already !== undefined) {
      already.ban(now, duration);
      this.dirty = true;
      return;
    }
    if (!isValidNodeId(addr.id) || this.ourAddrs.has(addr.toString())) return;
    // Nobody told us about it: it is its own source.
    const record = new KnownAddress(addr, addr, now);
    record.ban(now, duration);
    this.banned.set(record.id, record);
    this.dirty = true;
    this.enforceBanLimit();
  }

  /** Keeps the ban list within MAX_BANNED_ENTRIES by dropping the bans that end soonest. */
  private enforceBanLimit(): void {
    while (this.banned.size > MAX_BANNED_ENTRIES) {
      let soonest: KnownAddress | undefined;
      for (const b of this.banned.values()) if (soonest === undefined || b.lastBanTimeMs < soonest.lastBanTimeMs) soonest = b;
      this.banned.delete(soonest!.id);
      this.log.debug({ addr: soonest!.key }, 'ban list full: the ban ending soonest was dropped');
    }
  }

  /** Whether `addr`'s ID is in the ban list (until reinstated, even once the ban time is over). */
  isBanned(addr: NetAddress): boolean {
    return this.banned.has(addr.id);
  }

  /**
   * When the ban on `target`'s node ID ends (Clock ms), or undefined when no ban is running now:
   * unlike isBanned, a ban whose time is over counts as over here even before reinstateBadPeers
   * took it off the list. `target` is an address (only its ID counts) or a node ID (any case).
   * This is what the node asks before letting a peer in or dialing it.
   */
  bannedUntil(target: NetAddress | string): number | undefined {
    const id = typeof target === 'string' ? target : target?.id;
    if (typeof id !== 'string') return undefined;
    const ka = this.banned.get(id) ?? this.banned.get(id.toLowerCase());
    if (ka === undefined || !ka.isBanned(this.clock.now())) return undefined;
    return ka.lastBanTimeMs;
  }

  /**
   * Returns every expired ban to a new bucket, old and new entries alike, with its attempt count
   * cleared. An entry whose new bucket is full of non-terrible entries is forgotten instead (gossip
   * can bring it back). Returns how many entries went back into the book.
   */
  reinstateBadPeers(): number {
    const now = this.clock.now();
    let reinstated = 0;
    for (const ka of [...this.banned.values()]) {
      if (ka.isBanned(now)) continue;
      if (this.liftBan(ka, now)) reinstated++;
    }
    return reinstated;
  }

  /**
   * Lifts the ban on `target`'s node ID now, whatever time it had left (the operator's "unban"),
   * and returns the entry to a new bucket as reinstatement does (attempts cleared). `target` is an
   * address (only its ID counts: the banned entry keeps the address it was banned with) or a node
   * ID. Returns whether a ban was lifted; the entry itself may still be forgotten when its new
   * bucket is full of entries that are not terrible (gossip can bring it back).
   */
  unban(target: NetAddress | string): boolean {
    const id = typeof target === 'string' ? target : target?.id;
    if (typeof id !== 'string') throw new ErrAddrBookNilAddr('addr');
    // IDs are lowercase hex on the wire; an operator may type them in capitals.
    const ka = this.banned.get(id) ?? this.banned.get(id.toLowerCase());
    if (ka === undefined) return false;
    const now = this.clock.now();
    // The ban is over as of now: a later markBad starts from here, not from the lifted end time.
    ka.lastBanTimeMs = now;
    this.liftBan(ka, now);
    return true;
  }

  /** Takes `ka` off the ban list into a new bucket; returns whether it is back in the book. */
  private liftBan(ka: KnownAddress, now: number): boolean {
    this.banned.delete(ka.id);
    this.dirty = true;
    ka.bucketType = BUCKET_TYPE_NEW;
    ka.attempts = 0;
    // Private IDs and our own addresses may have been declared while it was banned, and a ban of an
    // address the book never held may name one it would not store.
    if (this.privateIds.has(ka.id) || this.privateIds.has(ka.src.id) || this.ourAddrs.has(ka.key)) return false;
    if (this.routabilityStrict ? !ka.addr.routable() : !ka.addr.valid()) return false;
    if (this.byId.has(ka.id) || !this.placeNew(ka, this.newBucketOf(ka.addr, ka.src), now)) {
      this.log.debug({ addr: ka.key }, 'ban over: no room in its new bucket, address forgotten');
      return false;
    }
    this.byId.set(ka.id, ka);
    return true;
  }

  // ---------------------------------------------------------------- lifecycle and persistence

  /** Loads the file (if any) and starts the periodic save. Calling it twice is a no-op. */
  start(): AddrBookLoadReport | undefined {
    if (this.started) return undefined;
    this.started = true;
    const report = this.filePath !== undefined ? this.loadFile(this.filePath) : undefined;
    this.saveTimer = this.clock.setInterval(() => this.periodicSave(), this.saveIntervalMs);
    return report;
  }

  /**
   * Stops the periodic save and, unless `save` is false, saves once more. `{ save: false }`
   * abandons the session without touching the disk: nothing is written, and a bad file found at
   * load stays where it was (it is only moved or copied aside by a save). A Node whose start
   * fails stops its book this way. Calling it on a stopped book is a no-op.
   */
  stop(options: { save?: boolean } = {}): void {
    if (!this.started) return;
    this.started = false;
    this.clock.clearInterval(this.saveTimer);
    this.saveTimer = undefined;
    // A queued follow-up save is answered here: by this final save, or not at all.
    const waiters = this.followUp?.waiters ?? [];
    this.followUp = undefined;
    if (options.save === false) {
      // An asynchronous save still in flight must not replace the file after this returns.
      this.abandonedSeq = this.saveSeq;
      const err = new ErrAddrBookSaveAbandoned(this.filePath ?? '');
      for (const w of waiters) w.reject(err);
      return;
    }
    try {
      // Synchronous and newest: an asynchronous save still in flight sees it and discards its
      // older snapshot instead of renaming it over this one.
      this.save();
      for (const w of waiters) w.resolve();
    } catch (err) {
      this.log.error({ err, file: this.filePath }, 'saving the address book on stop failed');
      for (const w of waiters) w.reject(err);
    }
  }

  /**
   * Writes the file now (atomically). A memory-only book does nothing. The first save after a load
   * that found a corrupt file (or entries it could not read) first moves (or copies) the original to
   * the load report's keptAsidePath; if that fails, nothing is written, now or later.
   */
  save(): void {
    if (this.filePath === undefined) return;
    const { seq, snapshot } = this.beginSave(this.filePath);
    try {
      writeFileAtomic(this.filePath, encodeSnapshot(snapshot));
    } catch (err) {
      this.dirty = true;
      throw err;
    }
    this.committedSeq = Math.max(this.committedSeq, seq);
  }

  /**
   * Writes the file without blocking the event loop for the I/O: the book is copied at the call
   * (a consistent view of that instant; later changes go to the next save), encoded a slice at a
   * time between the writes, then fsynced, renamed over the file and the directory fsynced. Same
   * crash guarantee and first-save rules as save(). Only one save is ever in flight: a call made
   * meanwhile is coalesced with any others into one more save after it, and resolves when that one
   * is done. Resolves once the state as of the call is on disk (a newer synchronous save counts);
   * rejects with the I/O error (the book stays dirty, so the periodic save retries), with
   * ErrAddrBookFileCorrupt when a bad file could not be kept aside, or with
   * ErrAddrBookSaveAbandoned when stop({ save: false }) came first. A memory-only book resolves at once.
   */
  saveAsync(): Promise<void> {
    if (this.filePath === undefined) return Promise.resolve();
    if (this.inFlight !== undefined) return this.queueFollowUp(true);
    return this.startAsyncSave(this.filePath);
  }

  /**
   * Resolves when no asynchronous save is in flight or queued (never rejects). For shutdown paths
   * and tests that want the periodic save's outcome on disk.
   */
  async whenSaved(): Promise<void> {
    while (this.inFlight !== undefined) await this.inFlight;
  }

  /** The synchronous first step of every save: the checks, the original kept aside, the snapshot. */
  private beginSave(path: string): { seq: number; snapshot: BookSnapshot } {
    if (this.saveBlockedReason !== undefined) throw new ErrAddrBookFileCorrupt(path, this.saveBlockedReason);
    if (this.pendingAside !== undefined) this.setOriginalAside(path, this.pendingAside);
    const snapshot = takeSnapshot(this.bookKey, [...this.byId.values()], [...this.banned.values()]);
    // Changes from here on belong to the next save (a failed write sets it back).
    this.dirty = false;
    return { seq: ++this.saveSeq, snapshot };
  }

  private startAsyncSave(path: string): Promise<void> {
    const run = this.writeAsync(path);
    this.inFlight = run.then(
      () => this.afterAsyncSave(),
      () => this.afterAsyncSave(),
    );
    return run;
  }

  private async writeAsync(path: string): Promise<void> {
    const { seq, snapshot } = this.beginSave(path);
    try {
      await writeFileAtomicAsync(
        path,
        async (write) => {
          for (const piece of encodeSnapshotSlices(snapshot, SAVE_ENTRIES_PER_SLICE)) await write(piece);
        },
        {
          ops: this.saveFs,
          // A newer snapshot already on disk (a synchronous save, stop()) or an abandoned session:
          // this one must not replace the file.
          shouldCommit: () => seq > this.committedSeq && seq > this.abandonedSeq,
          onCommitted: () => {
            this.committedSeq = seq;
          },
        },
      );
    } catch (err) {
      this.dirty = true;
      throw err;
    }
    if (seq <= this.abandonedSeq && seq > this.committedSeq) throw new ErrAddrBookSaveAbandoned(path);
  }

  private queueFollowUp(explicit: boolean): Promise<void> {
    const f = (this.followUp ??= { explicit: false, waiters: [] });
    if (!explicit) return Promise.resolve();
    f.explicit = true;
    return new Promise<void>((resolve, reject) => f.waiters.push({ resolve, reject }));
  }

  /** Runs the coalesced follow-up, if any: always when someone asked for it, else only if changed. */
  private afterAsyncSave(): void {
    this.inFlight = undefined;
    const f = this.followUp;
    this.followUp = undefined;
    if (f === undefined || this.filePath === undefined) return;
    if (!f.explicit && (!this.dirty || !this.started)) return;
    this.startAsyncSave(this.filePath).then(
      () => {
        for (const w of f.waiters) w.resolve();
      },
      (err) => {
        if (!f.explicit) this.logSaveFailure(err);
        for (const w of f.waiters) w.reject(err);
      },
    );
  }

  /** Moves or copies the file found at load out of the way before it is first overwritten. */
  private setOriginalAside(path: string, aside: { how: 'move' | 'copy'; to: string; reason: string }): void {
    let to = aside.to;
    if (existsSync(to)) to = this.asidePath(path);
    try {
      if (aside.how === 'move') renameSync(path, to);
      else copyFileSync(path, to);
      this.log.warn({ file: path, keptAs: to, reason: aside.reason }, `address book ${path}: original kept as ${to} (${aside.reason})`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.saveBlockedReason = `${aside.reason}; could not keep it aside as ${to} (${(err as Error).message})`;
        this.log.warn({ file: path, reason: this.saveBlockedReason }, `address book ${path}: not saving over it (${this.saveBlockedReason})`);
        throw new ErrAddrBookFileCorrupt(path, this.saveBlockedReason);
      }
      // The file went away since the load: there is nothing left to keep.
    }
    this.pendingAside = undefined;
  }

  /** Full structural self-check; throws ErrAddrBookInvariant naming the first violation. */
  checkInvariants(): void {
    checkBookInvariants({
      byId: this.byId,
      banned: this.banned,
      newTable: this.newTable,
      oldTable: this.oldTable,
      layout: this.layout,
      slotOf: (type, bucket, key) => this.hasher.slot(type, bucket, key, this.layout.bucketSize),
    });
  }

  /** The timer's save: asynchronous, only when something changed, coalesced with one in flight. */
  private periodicSave(): void {
    if (this.filePath === undefined) return;
    if (this.inFlight !== undefined) {
      void this.queueFollowUp(false);
      return;
    }
    if (!this.dirty) return;
    this.startAsyncSave(this.filePath).catch((err: unknown) => this.logSaveFailure(err));
  }

  private logSaveFailure(err: unknown): void {
    if (err instanceof ErrAddrBookSaveAbandoned) this.log.debug({ file: this.filePath }, 'periodic save abandoned by stop({ save: false })');
    else this.log.error({ err, file: this.filePath }, 'periodic save of the address book failed; retrying at the next period');
  }

  private loadFile(path: string): AddrBookLoadReport {
    const report: AddrBookLoadReport = { status: 'missing', loaded: 0, banned: 0, skipped: 0, replaced: 0 };
    this.pendingAside = undefined;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
      return this.keepAsideCorrupt(path, `unreadable (${(err as Error).message})`, report);
    }
    let decoded: DecodedBook;
    try {
      // The byte scanner reads the usual shape without building a JSON tree; anything else (and
      // every judgement of a bad file) goes through the general decoder.
      decoded = scanBook(bytes) ?? decodeBook(bytes.toString('utf8'), path);
    } catch (err) {
      return this.keepAsideCorrupt(path, (err as ErrAddrBookFileCorrupt).reason ?? String(err), report);
    }
    this.resetTables(decoded.key);
    report.status = 'loaded';
    const now = this.clock.now();
    const srcCache = new Map<string, NetAddress>();
    let skipped = decoded.invalid.length;
    for (const raw of decoded.banned) {
      const ka = this.entryFromRaw(raw, now, srcCache, 'ban');
      if (ka === undefined || this.banned.has(ka.id)) {
        skipped++;
        continue;
      }
      ka.buckets = [];
      this.banned.set(ka.id, ka);
      report.banned++;
    }
    this.enforceBanLimit();
    for (const raw of decoded.addrs) {
      const ka = this.entryFromRaw(raw, now, srcCache);
      if (ka === undefined || this.byId.has(ka.id) || this.banned.has(ka.id)) {
        skipped++;
        continue;
      }
      const outcome = this.placeLoaded(ka, raw.buckets, now);
      if (outcome === 'dropped') {
        skipped++;
        continue;
      }
      if (outcome === 'replaced') report.replaced++;
      this.byId.set(ka.id, ka);
      report.loaded++;
    }
    report.skipped = skipped;
    if (skipped > 0) {
      // The next save would lose what we could not read: it copies the original aside first. Not
      // now: a start that is abandoned must leave the disk as it found it.
      const to = this.asidePath(path);
      report.keptAsidePath = to;
      this.pendingAside = { how: 'copy', to, reason: `${skipped} entries could not be loaded` };
      this.log.warn(
        { file: path, copy: to, skipped, invalid: decoded.invalid.slice(0, 5) },
        `address book ${path}: ${skipped} entries could not be loaded; the original will be copied to ${to} before it is first saved over`,
      );
    }
    this.dirty = report.replaced > 0 || skipped > 0;
    this.log.info({ file: path, ...report }, 'address book loaded');
    return report;
  }

  private keepAsideCorrupt(path: string, reason: string, report: AddrBookLoadReport): AddrBookLoadReport {
    report.status = 'corrupt';
    const to = this.asidePath(path);
    report.keptAsidePath = to;
    this.pendingAside = { how: 'move', to, reason: `corrupt: ${reason}` };
    this.log.warn({ file: path, moveTo: to, reason }, `address book ${path} is corrupt (${reason}); starting empty; it will be moved to ${to} before the first save`);
    return report;
  }

  private asidePath(path: string): string {
    const stamp = new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-');
    let candidate = `${path}.corrupt-${stamp}`;
    for (let i = 1; existsSync(candidate); i++) candidate = `${path}.corrupt-${stamp}-${i}`;
    return candidate;
  }

  /**
   * A stored entry, or undefined when the book may not hold it. A ban record (`as` = 'ban') only
   * needs a valid ID: bans may name addresses the book would not store (see markBad).
   */
  private entryFromRaw(raw: RawEntry, now: number, srcCache: Map<string, NetAddress>, as: 'entry' | 'ban' = 'entry'): KnownAddress | undefined {
    let addr: NetAddress;
    let src: NetAddress;
    try {
      // The constructor checks the IP literal and the port like fromProto does, with one parse
      // instead of two (this runs 20 000 times when a full book loads).
      addr = new NetAddress(raw.addr.id, raw.addr.ip, raw.addr.port);
      // Sources repeat across entries; build each once (keyed by ID, no string building: this runs
      // for every entry of the file).
      let cached = srcCache.get(raw.src.id);
      if (cached === undefined || cached.port !== raw.src.port || cached.ip !== raw.src.ip) {
        cached = new NetAddress(raw.src.id, raw.src.ip, raw.src.port);
        srcCache.set(raw.src.id, cached);
      }
      src = cached;
    } catch {
      return undefined;
    }
    if (as === 'ban') {
      if (!isValidNodeId(addr.id)) return undefined;
    } else if (this.routabilityStrict ? !addr.routable() : !addr.valid()) return undefined;
    if (as === 'entry' && this.privateIds.size > 0 && (this.privateIds.has(addr.id) || this.privateIds.has(src.id))) return undefined;
    if (this.ourAddrs.size > 0 && this.ourAddrs.has(addr.toString())) return undefined;
    const ka = new KnownAddress(addr, src, now);
    ka.attempts = raw.attempts;
    ka.bucketType = raw.bucketType === BUCKET_TYPE_OLD ? BUCKET_TYPE_OLD : BUCKET_TYPE_NEW;
    ka.lastAttemptMs = raw.lastAttemptMs;
    ka.lastSuccessMs = raw.lastSuccessMs;
    ka.lastBanTimeMs = raw.lastBanTimeMs;
    return ka;
  }

  /**
   * Puts a loaded entry back into the buckets its file lists when they exist in our layout and have
   * room (as CometBFT does); otherwise places it afresh with our hash. An old entry that finds no
   * room in the old table falls back to the new table rather than being lost.
   */
  private placeLoaded(ka: KnownAddress, listed: number[], now: number): 'kept' | 'replaced' | 'dropped' {
    if (ka.isOld()) {
      const b = listed[0];
      if (listed.length === 1 && b < this.layout.oldBucketCount) {
        const slot = this.slotFor(this.oldTable, b, ka);
        if (slot >= 0 && this.oldTable.at(b, slot) === undefined) {
          this.oldTable.place(b, slot, ka);
          return 'kept';
        }
      }
      const ob = this.oldBucketOf(ka);
      const slot = this.slotFor(this.oldTable, ob, ka);
      if (slot >= 0 && this.oldTable.at(ob, slot) === undefined) {
        this.oldTable.place(ob, slot, ka);
        return 'replaced';
      }
      ka.bucketType = BUCKET_TYPE_NEW;
    } else {
      for (const b of listed) {
        if (ka.buckets.length >= this.layout.maxNewBucketsPerAddress) break;
        if (b >= this.layout.newBucketCount || ka.buckets.includes(b)) continue;
        const slot = this.slotFor(this.newTable, b, ka);
        if (slot >= 0 && this.newTable.at(b, slot) === undefined) this.newTable.place(b, slot, ka);
      }
      if (ka.buckets.length > 0) return ka.buckets.length === listed.length ? 'kept' : 'replaced';
    }
    return this.placeNew(ka, this.newBucketOf(ka.addr, ka.src), now) ? 'replaced' : 'dropped';
  }

  private resetTables(key: string): void {
    for (const ka of this.byId.values()) ka.buckets = [];
    this.newTable.clear();
    this.oldTable.clear();
    this.byId.clear();
    this.banned.clear();
    this.bookKey = key;
    this.hasher = new PlacementHasher(key);
  }

  // ---------------------------------------------------------------- placement internals

  /**
   * Group of an address the book accepts or holds. Such an address is valid, and routable in strict
   * mode (so never local), which makes the strict-mode special cases moot: only the IP matters.
   */
  private addrGroup(addr: NetAddress): string {
    return groupKeyOfIp(addr.ipBytes());
  }

  /**
   * Group of a source, with a small cache: sources repeat (a few peers gossip most addresses) and
   * the strict-mode checks behind a group key re-validate the whole address.
   */
  private srcGroup(addr: NetAddress): string {
    const text = addr.toString();
    let g = this.groupCache.get(text);
    if (g === undefined) {
      if (this.groupCache.size >= GROUP_CACHE_LIMIT) this.groupCache.clear();
      g = groupKey(addr, this.routabilityStrict);
      this.groupCache.set(text, g);
    }
    return g;
  }

  private newBucketOf(addr: NetAddress, src: NetAddress): number {
    return this.hasher.newBucket(
      this.addrGroup(addr),
      this.srcGroup(src),
      this.layout.newBucketsPerGroup,
      this.layout.newBucketCount,
    );
  }

  private oldBucketOf(ka: KnownAddress): number {
    return this.hasher.oldBucket(ka.key, this.addrGroup(ka.addr), this.layout.oldBucketsPerGroup, this.layout.oldBucketCount);
  }

  /** The slot `ka` would take in `bucket`: its hashed slot, or the first free one (-1 if full). */
  private slotFor(table: BucketTable, bucket: number, ka: KnownAddress): number {
    if (this.layout.slotPolicy === 'hashed') return this.hasher.slot(table.type, bucket, ka.key, table.bucketSize);
    return table.freeSlot(bucket);
  }

  /**
   * Adds `ka` (new-typed) to new bucket `bucket`. When the place is taken, the incumbent gives way
   * only if the policy allows (default: only a terrible incumbent). An evicted entry that had no
   * other bucket leaves the book. Returns whether `ka` was placed.
   */
  private placeNew(ka: KnownAddress, bucket: number, now: number): boolean {
    const table = this.newTable;
    const evictOldest = this.layout.fullBucketPolicy === 'evict-oldest';
    if (this.layout.slotPolicy === 'hashed') {
      const slot = this.hasher.slot(table.type, bucket, ka.key, table.bucketSize);
      const occupant = table.at(bucket, slot);
      if (occupant === ka) return false;
      if (occupant !== undefined) {
        // Bitcoin Core's rule: a terrible incumbent, or one that also sits elsewhere while the
        // newcomer sits nowhere yet, gives way.
        const yields = evictOldest || occupant.isTerrible(now) || (occupant.buckets.length > 1 && ka.buckets.length === 0);
        if (!yields) return false;
        this.evictFromNew(occupant, bucket);
      }
      table.place(bucket, slot, ka);
      return true;
    }
    let slot = table.freeSlot(bucket);
    if (slot < 0) {
      const victim = this.newVictim(bucket, now);
      if (victim === undefined) return false;
      this.evictFromNew(victim, bucket);
      slot = table.freeSlot(bucket);
    }
    table.place(bucket, slot, ka);
    return true;
  }

  /**
   * The entry of a full new bucket that may make room: the terrible one attempted longest ago (or,
   * under 'evict-oldest', the oldest). Remembers when a scan found nobody, so floods against full
   * buckets cost O(1) per announcement.
   */
  private newVictim(bucket: number, now: number): KnownAddress | undefined {
    const table = this.newTable;
    const evictOldest = this.layout.fullBucketPolicy === 'evict-oldest';
    if (!evictOldest && now < table.noVictimBeforeMs[bucket]) return undefined;
    let worst: KnownAddress | undefined;
    let oldest: KnownAddress | undefined;
    let notBefore = Number.POSITIVE_INFINITY;
    const base = bucket * table.bucketSize;
    for (let s = 0; s < table.bucketSize; s++) {
      const ka = table.slots[base + s];
      if (ka === undefined) continue;
      if (ka.isTerrible(now)) {
        if (worst === undefined || ka.lastAttemptMs < worst.lastAttemptMs) worst = ka;
      } else {
        notBefore = Math.min(notBefore, ka.terribleNotBeforeMs());
      }
      if (oldest === undefined || ka.lastAttemptMs < oldest.lastAttemptMs) oldest = ka;
    }
    if (worst === undefined) table.noVictimBeforeMs[bucket] = notBefore;
    return worst ?? (evictOldest ? oldest : undefined);
  }

  private evictFromNew(victim: KnownAddress, bucket: number): void {
    this.newTable.unplace(bucket, victim);
    if (victim.buckets.length === 0) this.byId.delete(victim.id);
  }

  /**
   * Promotes `ka` to the old table. When its old bucket (or hashed slot) is taken, test-before-evict
   * applies: only an incumbent whose last dial failed since its last success gives way, and it is
   * demoted to a new bucket, never dropped; if it cannot find room there, nothing moves and `ka`
   * stays new (still marked good, so a later markGood retries).
   */
  private moveToOld(ka: KnownAddress, now: number): void {
    const table = this.oldTable;
    const bucket = this.oldBucketOf(ka);
    let slot = this.slotFor(table, bucket, ka);
    let victim: KnownAddress | undefined;
    if (slot < 0 || table.at(bucket, slot) !== undefined) {
      victim = this.oldVictim(bucket, slot, now);
      if (victim === undefined) return;
    }
    const previousNewBuckets = [...ka.buckets];
    this.newTable.unplaceAll(ka);
    if (victim !== undefined) {
      const victimSlot = table.slotOf(bucket, victim);
      table.unplace(bucket, victim);
      victim.bucketType = BUCKET_TYPE_NEW;
      if (!this.placeNew(victim, this.newBucketOf(victim.addr, victim.src), now)) {
        // No room for the demoted entry: undo, so nothing is lost.
        victim.bucketType = BUCKET_TYPE_OLD;
        table.place(bucket, victimSlot, victim);
        for (const b of previousNewBuckets) {
          const s = this.slotFor(this.newTable, b, ka);
          if (s >= 0 && this.newTable.at(b, s) === undefined) this.newTable.place(b, s, ka);
        }
        if (ka.buckets.length === 0) this.byId.delete(ka.id); // unreachable in practice: its slots were just freed
        return;
      }
      slot = this.layout.slotPolicy === 'hashed' ? victimSlot : table.freeSlot(bucket);
    }
    ka.bucketType = BUCKET_TYPE_OLD;
    table.place(bucket, slot, ka);
  }

  /** Which incumbent of a full old bucket (or of the hashed slot) may be demoted, if any. */
  private oldVictim(bucket: number, slot: number, now: number): KnownAddress | undefined {
    const evictOldest = this.layout.fullBucketPolicy === 'evict-oldest';
    const candidates = this.layout.slotPolicy === 'hashed' ? [this.oldTable.at(bucket, slot)!] : this.oldTable.occupants(bucket);
    let best: KnownAddress | undefined;
    for (const c of candidates) {
      if (!evictOldest && !c.failedSinceSuccess(now)) continue;
      if (best === undefined || c.lastSuccessMs < best.lastSuccessMs) best = c;
    }
    return best;
  }

  private pickIn(table: BucketTable): KnownAddress {
    const mode = this.layout.pickWithin;
    if (mode === 'entry') return table.entries[this.rng.int(table.entries.length)];
    const size = table.bucketSize;
    if (mode === 'bucket') {
      let b: number;
      do b = this.rng.int(table.bucketCount);
      while (table.counts[b] === 0);
      for (;;) {
        const ka = table.at(b, this.rng.int(size));
        if (ka !== undefined) return ka;
      }
    }
    for (;;) {
      const ka = table.slots[this.rng.int(table.slots.length)];
      if (ka !== undefined) return ka;
    }
  }

  /** Takes an entry out of both tables and the index. */
  private forget(ka: KnownAddress): void {
    if (ka.isOld()) this.oldTable.unplaceAll(ka);
    else this.newTable.unplaceAll(ka);
    this.byId.delete(ka.id);
    this.dirty = true;
  }
}

function validateLayout(l: AddrBookLayout): AddrBookLayout {
  const positive = (key: keyof AddrBookLayout, max: number): void => {
    const v = l[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw new ErrAddrBookOption(`layout.${key}`, `an integer from 1 to ${max}`, v);
    }
  };
  positive('newBucketCount', 65536);
  positive('oldBucketCount', 65536);
  positive('bucketSize', 4096);
  positive('newBucketsPerGroup', 65536);
  positive('oldBucketsPerGroup', 65536);
  positive('maxNewBucketsPerAddress', 64);
  if (!['any-free', 'hashed'].includes(l.slotPolicy)) throw new ErrAddrBookOption('layout.slotPolicy', "'any-free' or 'hashed'", l.slotPolicy);
  if (!['keep-unless-terrible', 'evict-oldest'].includes(l.fullBucketPolicy)) {
    throw new ErrAddrBookOption('layout.fullBucketPolicy', "'keep-unless-terrible' or 'evict-oldest'", l.fullBucketPolicy);
  }
  if (!['entry', 'bucket', 'slot'].includes(l.pickWithin)) throw new ErrAddrBookOption('layout.pickWithin', "'entry', 'bucket' or 'slot'", l.pickWithin);
  return l;
}
