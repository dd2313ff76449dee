/**
 * Worker threads that seal and open SecretConnection frames in bulk, off the main thread.
 *
 * ChaCha20-Poly1305 is most of the CPU a bulk transfer costs (spec/secret-connection.md); on one
 * thread it caps goodput at the AEAD's own speed, however lean the rest is. A pool moves large
 * batches (tens to hundreds of frames per job) to worker threads, while the main thread keeps the
 * sockets, framing and everything above. Small writes and reads stay inline on the main thread:
 * a job's round trip (~0.1 ms) would cost more latency than sealing a few frames takes.
 *
 * A session is one connection's key pair, bound to one worker for its life, so its jobs complete
 * in the order they were posted. Buffers travel as transferred ArrayBuffers (no copies); the
 * nonce counter of each job is fixed by the main thread when it posts the job.
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sodiumAeadDirect, sodiumBinding } from './sodium-binding.js';
import type { FrameAeadKind } from './frame-aead.js';
import { defaultFrameAeadKind } from './frame-aead.js';

export interface FrameCryptoPoolOptions {
  /**
   * Worker threads. Default: one fewer than the CPUs this process may use, at most 4 (0 on a
   * single CPU, where a worker would only compete with the main thread).
   */
  threads?: number;
  /** AEAD implementation inside the workers. Default: libsodium when it loads, else node:crypto. */
  aead?: FrameAeadKind;
  /**
   * Jobs queued on a worker from which connections seal their next batch on their own thread
   * (queued behind the jobs, so order holds) instead of adding to the queue: the calling
   * thread's spare time then shares the work of a saturated worker. Pays only where that
   * thread is idle much of the time: on 2 vCPUs, a bare SecretConnection transfer (main thread
   * half idle) gained ~10 % with 5 (432 vs 390 MB/s, median of 6 alternating 512 MiB runs),
   * but MConnection, whose framing and reassembly keep the main thread busy, lost ~10 %
   * (314–324 vs 348–365 MB/s). Default Infinity: never share, every large batch goes to a worker.
   */
  shareAtBacklogJobs?: number;
}

/** What a finished job reports (see frame-crypto-worker.cjs). */
export interface FrameJobResult {
  /** The job's buffer, back on this thread. */
  ab: ArrayBuffer;
  /** Open jobs: data bytes now contiguous from byte 0. */
  dataBytes: number;
  /** Frames sealed, or opened before a failure. */
  opened: number;
  /** 0 = none; 1 = frame `opened` failed authentication; 2 = its length field `length` exceeds 1024. */
  failure: 0 | 1 | 2;
  length: number;
}

interface PendingJob {
  op: 'seal' | 'open';
  resolve(result: FrameJobResult): void;
  reject(err: Error): void;
}

/** What a pool has done so far, for operators (metrics) and tests. */
export interface FrameCryptoPoolStats {
  threads: number;
  /** Workers started so far (they start with the first sessions). */
  workersStarted: number;
  /** Connections with keys on a worker now. */
  sessions: number;
  /** Frames sealed / opened on workers (opened: good frames only). */
  sealedFrames: number;
  openedFrames: number;
}

class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, PendingJob>();
  failure: Error | undefined;
  sessions = 0;

  constructor(workerData: Record<string, string | undefined>, private readonly stats: FrameCryptoPoolStats) {
    this.worker = new Worker(new URL('./frame-crypto-worker.cjs', import.meta.url), { workerData });
    // An idle pool must not keep the process alive; pending jobs keep it referenced (see post).
    this.worker.unref();
    this.worker.on('message', (r: FrameJobResult & { job: number }) => {
      const job = this.pending.get(r.job);
      if (!job) return;
      this.pending.delete(r.job);
      if (this.pending.size === 0) this.worker.unref();
      if (job.op === 'seal') this.stats.sealedFrames += r.opened;
      else this.stats.openedFrames += r.opened;
      job.resolve(r);
    });
    const fail = (err: Error): void => {
      this.failure ??= err;
      for (const job of this.pending.values()) job.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`frame crypto worker exited (code ${code})`)));
  }

  post(message: object, job: number, transfer: ArrayBuffer[], pending: PendingJob): void {
    if (this.failure) {
      pending.reject(this.failure);
      return;
    }
    if (this.pending.size === 0) this.worker.ref();
    this.pending.set(job, pending);
    this.worker.postMessage(message, transfer);
  }
}

/** Worker deaths per thread a pool replaces before it turns itself off (see session()). */
const MAX_WORKER_DEATHS_PER_THREAD = 3;

let nextSessionId = 1;
let nextJobId = 1;

/** One connection's two keys on one worker. */
export class FrameCryptoSession {
  private closed = false;

  constructor(
    private readonly owner: PoolWorker,
    private readonly id: number,
    private readonly stats: FrameCryptoPoolStats,
    private readonly shareAtBacklogJobs: number,
  ) {}

  /** Seals `frames` plaintext slots of `ab` (1044 bytes each) with counters from lo/hi; `ab` is transferred. */
  seal(ab: ArrayBuffer, frames: number, lo: number, hi: number): Promise<FrameJobResult> {
    return this.job('seal', ab, frames, lo, hi);
  }

  /** Opens `frames` sealed frames of `ab` with counters from lo/hi, data made contiguous; `ab` is transferred. */
  open(ab: ArrayBuffer, frames: number, lo: number, hi: number): Promise<FrameJobResult> {
    return this.job('open', ab, frames, lo, hi);
  }

  /** Whether this session's worker has so many jobs queued (from all its sessions) that the caller should seal its next batch itself. */
  get workerSaturated(): boolean {
    return this.owner.pending.size >= this.shareAtBacklogJobs;
  }

  /** Drops the keys from the worker (after its jobs already posted, which still complete). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.sessions--;
    this.stats.sessions--;
    if (!this.owner.failure) this.owner.worker.postMessage({ op: 'forget', session: this.id });
  }

  private job(op: 'seal' | 'open', ab: ArrayBuffer, frames: number, lo: number, hi: number): Promise<FrameJobResult> {
    if (this.closed) return Promise.reject(new Error('frame crypto session is closed'));
    const job = nextJobId++;
    return new Promise((resolve, reject) => {
      this.owner.post({ op, job, session: this.id, ab, frames, lo, hi }, job, [ab], { op, resolve, reject });
    });
  }
}

export class FrameCryptoPool {
  private readonly workers: PoolWorker[] = [];
  private readonly workerData: Record<string, string | undefined>;
  readonly threads: number;
  private closed = false;
  private deaths = 0;
  private readonly counts: FrameCryptoPoolStats;
  private readonly shareAtBacklogJobs: number;

  constructor(options: FrameCryptoPoolOptions = {}) {
    const threads = options.threads ?? Math.max(0, Math.min(4, availableParallelism() - 1));
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new RangeError(`threads must be an integer in [0, 64], got ${String(options.threads)}`);
    this.threads = threads;
    const share = options.shareAtBacklogJobs ?? Infinity;
    if (!(share === Infinity || (Number.isInteger(share) && share >= 1))) {
      throw new RangeError(`shareAtBacklogJobs must be a positive integer or Infinity, got ${String(options.shareAtBacklogJobs)}`);
    }
    this.shareAtBacklogJobs = share;
    this.counts = { threads, workersStarted: 0, sessions: 0, sealedFrames: 0, openedFrames: 0 };
    const kind = options.aead ?? defaultFrameAeadKind();
    if (kind !== 'sodium-native' && kind !== 'node:crypto') throw new RangeError(`aead must be 'sodium-native' or 'node:crypto', got ${String(kind)}`);
    if (kind === 'sodium-native' && !sodiumBinding()) throw new RangeError("aead 'sodium-native' was requested but sodium-native cannot be loaded here");
    const require = createRequire(import.meta.url);
    this.workerData =
      kind === 'node:crypto'
        ? {}
        : sodiumAeadDirect()
          ? { directPath: require.resolve('sodium-native/binding.js') }
          : { wrapperPath: require.resolve('sodium-native') };
  }

  /** Whether connections should offload to this pool at all (false with 0 threads or once closed). */
  get enabled(): boolean {
    return this.threads > 0 && !this.closed;
  }

  /**
   * A session for one connection's send and receive keys, on the least-loaded worker. Workers
   * start lazily; one that died (its connections ended with its error) is replaced, up to
   * MAX_WORKER_DEATHS_PER_THREAD times per thread, after which the pool turns itself off.
   * Undefined when the pool is off (no threads, closed): the caller seals and opens inline.
   */
  session(sendKey: Uint8Array, recvKey: Uint8Array): FrameCryptoSession | undefined {
    if (!this.enabled) return undefined;
    for (let i = this.workers.length - 1; i >= 0; i--) {
      if (!this.workers[i].failure) continue;
      this.workers.splice(i, 1);
      if (++this.deaths > MAX_WORKER_DEATHS_PER_THREAD * this.threads) {
        void this.close();
        return undefined;
      }
    }
    if (this.workers.length < this.threads) {
      this.workers.push(new PoolWorker(this.workerData, this.counts));
      this.counts.workersStarted++;
    }
    let owner = this.workers[0];
    for (const w of this.workers) if (w.sessions < owner.sessions) owner = w;
    const id = nextSessionId++;
    owner.sessions++;
    this.counts.sessions++;
    owner.worker.postMessage({ op: 'keys', session: id, send: Uint8Array.from(sendKey), recv: Uint8Array.from(recvKey) });
    return new FrameCryptoSession(owner, id, this.counts, this.shareAtBacklogJobs);
  }

  stats(): FrameCryptoPoolStats {
    return { ...this.counts };
  }

  /** Stops the workers; jobs still pending fail, and connections using them end with that error. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
