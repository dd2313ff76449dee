/**
 * The upgrade pipeline: turns a raw connection into an authenticated one with a checked NodeInfo,
 * in CometBFT's order. Each failure is a typed ErrRejected subclass naming the failed check, and
 * closes the connection. Every timeout runs on the injected Clock and is cleared on the way out.
 *
 *   SecretConnection handshake (3 s; our NodeInfo goes out in the AuthSig's socket write) →
 *   outbound: remote ID = dialed ID → NodeInfo exchange (3 s: theirs is read, ≤ 10 240 bytes) →
 *   validate → NodeInfo ID = authenticated ID → not ourselves → compatible (block version,
 *   network, a common channel)
 *
 * The connection filters by address run before this (on the raw connection) and the peer filters
 * by ID after it, both in the Switch with `runFilters`, as CometBFT does.
 */
import type { FrameCryptoPool } from './conn/frame-crypto-pool.js';
import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from './clock.js';
import { SecretConnection, type LocalIdentity } from './conn/secret-connection.js';
import { encodeDelimited, readDelimited } from './conn/delimited.js';
import {
  MAX_NODE_INFO_SIZE_BYTES,
  checkNodeInfoCompatible,
  decodeNodeInfo,
  encodeNodeInfo,
  validateNodeInfo,
  type NodeInfo,
} from './node-info.js';
import type { NodeId } from './node-id.js';
import type { RawConnection } from './transport/transport.js';
import {
  ErrRejected,
  ErrRejectedAuthFailure,
  ErrRejectedDialedIdMismatch,
  ErrRejectedIncompatible,
  ErrRejectedInvalidNodeInfo,
  ErrRejectedNodeInfoIdMismatch,
  ErrRejectedSelf,
  ErrUpgradeTimeout,
} from './switch-errors.js';

/** CometBFT's fixed handshake timeout, applied separately to the handshake and to the NodeInfo exchange. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000;
/** CometBFT's connection/peer filter timeout. */
export const DEFAULT_FILTER_TIMEOUT_MS = 5000;

export interface UpgradeDeps {
  clock: Clock;
}

export interface UpgradeRequest {
  raw: RawConnection;
  /** Our key: signs the handshake; its id is used for the self check. */
  identity: LocalIdentity & { id: NodeId };
  ourNodeInfo: NodeInfo;
  /** Outbound only: the ID in the address we dialed. */
  dialedId?: NodeId;
  /** Per step. Default 3000 ms. */
  handshakeTimeoutMs?: number;
  /** Aborting (the Switch stopping) closes the connection and rejects. */
  signal?: AbortSignal;
  /** Tests and replays only: a fixed ephemeral X25519 private key (32 bytes). Default: a fresh random one. */
  ephemeralPrivateKey?: Uint8Array;
  /** Where the connection's bulk frames are sealed and opened (SecretConnectionOptions.cryptoPool). Default: inline. */
  cryptoPool?: FrameCryptoPool;
}

export interface UpgradedConnection {
  conn: SecretConnection;
  nodeInfo: NodeInfo;
  /** The authenticated ID (equal to nodeInfo.id). */
  id: NodeId;
}

/**
 * Runs `step` with a deadline: when it passes, the signal given to `step` aborts, `onTimeout` runs
 * (to close the stream under the step) and the result rejects with `timeoutError()`.
 */
export function withDeadline<T>(
  clock: Clock,
  ms: number,
  step: (signal: AbortSignal) => Promise<T>,
  timeoutError: () => Error,
  outer?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const ac = new AbortController();
    let done = false;
    let timer: TimerHandle | undefined;
    const finish = (ok: boolean, value: unknown): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      if (ok) resolve(value as T);
      else reject(value);
    };
    const onOuterAbort = (): void => {
      ac.abort(outer!.reason);
      finish(false, outer!.reason);
    };
    if (outer?.aborted) {
      finish(false, outer.reason);
      return;
    }
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    timer = clock.setTimeout(() => {
      const err = timeoutError();
      ac.abort(err);
      finish(false, err);
    }, ms);
    step(ac.signal).then(
      (v) => finish(true, v),
      (e) => finish(false, e),
    );
  });
}

/** Runs `filters` at the same time; the first refusal or the timeout rejects. */
export function runFilters(
  clock: Clock,
  filters: ReadonlyArray<() => void | Promise<void>>,
  timeoutMs: number,
  refused: (cause: unknown) => ErrRejected,
  timedOut: () => ErrRejected,
): Promise<void> {
  if (filters.length === 0) return Promise.resolve();
  return withDeadline(
    clock,
    timeoutMs,
    () =>
      Promise.all(
        filters.map(async (f) => {
          try {
            await f();
          } catch (cause) {
            throw refused(cause);
          }
        }),
      ).then(() => undefined),
    timedOut,
  );
}

const remoteOf = (raw: RawConnection): string =>
  raw.remote.ip.includes(':') ? `[${raw.remote.ip}]:${raw.remote.port}` : `${raw.remote.ip}:${raw.remote.port}`;

/** Upgrades `req.raw`; on any failure the connection is destroyed and a typed ErrRejected (or the abort reason) is thrown. */
export async function upgradeConnection(deps: UpgradeDeps, req: UpgradeRequest): Promise<UpgradedConnection> {
  const { clock } = deps;
  const remote = remoteOf(req.raw);
  const timeoutMs = req.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const raw: Duplex = req.raw.stream;
  const ourNodeInfoDelimited = encodeDelimited(encodeNodeInfo(req.ourNodeInfo));
  let conn: SecretConnection | undefined;
  try {
    // 1. SecretConnection handshake. Our deadline is scheduled first, so with equal timeouts it
    // fires before the handshake's own; destroying the raw stream makes the handshake fail.
    conn = await withDeadline(
      clock,
      timeoutMs,
      (signal) => {
        signal.addEventListener('abort', () => raw.destroy(), { once: true });
        return SecretConnection.handshake({ clock }, raw, req.identity, {
          handshakeTimeoutMs: timeoutMs + 1,
          ephemeralPrivateKey: req.ephemeralPrivateKey,
          cryptoPool: req.cryptoPool,
          // Our NodeInfo does not depend on the peer: it rides in the AuthSig's socket write
          // (same frames and bytes as writing it afterwards, one write fewer per side).
          earlyData: ourNodeInfoDelimited,
        }).catch(
          (cause: unknown) => {
            if (signal.aborted) throw signal.reason;
            throw new ErrRejectedAuthFailure(remote, 'handshake', cause);
          },
        );
      },
      () => new ErrUpgradeTimeout(remote, 'handshake', timeoutMs),
      req.signal,
    );
    const secret = conn;
    const authenticatedId = secret.remoteNodeId;

    // 2. Outbound: the key must be the one we meant to reach.
    if (req.dialedId !== undefined && req.dialedId !== authenticatedId) {
      throw new ErrRejectedDialedIdMismatch(remote, req.dialedId, authenticatedId);
    }

    // 3. NodeInfo exchange: ours went out with the AuthSig (step 1); read theirs.
    const theirBytes = await withDeadline(
      clock,
      timeoutMs,
      async (signal) => {
        signal.addEventListener('abort', () => secret.destroy(), { once: true });
        try {
          return await readDelimited(secret, { maxBytes: MAX_NODE_INFO_SIZE_BYTES, what: 'NodeInfo', signal });
        } catch (cause) {
          if (signal.aborted) throw signal.reason;
          throw new ErrRejectedAuthFailure(remote, 'node-info-exchange', cause);
        }
      },
      () => new ErrUpgradeTimeout(remote, 'node-info-exchange', timeoutMs),
      req.signal,
    );

    // 4. Decode and validate.
    let theirs: NodeInfo;
    try {
      theirs = decodeNodeInfo(theirBytes);
      validateNodeInfo(theirs);
    } catch (cause) {
      throw new ErrRejectedInvalidNodeInfo(remote, cause);
    }

    // 5. The NodeInfo must speak for the key that authenticated (string compare, like CometBFT).
    if (theirs.id !== authenticatedId) throw new ErrRejectedNodeInfoIdMismatch(remote, authenticatedId, theirs.id);

    // 6. Not ourselves.
    if (theirs.id === req.identity.id) throw new ErrRejectedSelf(remote, theirs.id);

    // 7. Compatible.
    try {
      checkNodeInfoCompatible(req.ourNodeInfo, theirs);
    } catch (cause) {
      throw new ErrRejectedIncompatible(remote, theirs.id, cause);
    }
    return { conn: secret, nodeInfo: theirs, id: authenticatedId };
  } catch (err) {
    conn?.destroy();
    raw.destroy();
    throw err;
  }
}
