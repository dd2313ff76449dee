/**
 * PEX errors: one class per condition, with the fields a log line or a caller needs. Errors that
 * describe a peer's misbehaviour are the `reason` the reactor hands to Switch.stopPeerForError.
 */
import { SwitchyardError } from '../p2p/errors.js';

/** A PEX channel message that is not valid protobuf for `Message`. */
export class ErrPexMalformedMessage extends SwitchyardError {
  constructor(
    readonly peerId: string,
    readonly reason: string,
  ) {
    super(`peer ${peerId} sent a malformed PEX message: ${reason}`);
  }
}

/** A `Message` with neither PexRequest nor PexAddrs set (an unknown or empty oneof). */
export class ErrPexUnknownMessage extends SwitchyardError {
  constructor(readonly peerId: string) {
    super(`peer ${peerId} sent a PEX message with no known type`);
  }
}

/** One entry of a PexAddrs failed validation (bad ID, unparsable IP, port out of range...). */
export class ErrPexInvalidAddress extends SwitchyardError {
  constructor(
    readonly index: number,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`PEX address #${index} (${address}) is invalid: ${reason}`);
  }
}

/** A PexAddrs with more entries than any honest peer sends (250). */
export class ErrPexTooManyAddrs extends SwitchyardError {
  constructor(
    readonly count: number,
    readonly limit: number,
  ) {
    super(`PexAddrs carries ${count} addresses, more than the limit of ${limit}`);
  }
}

/** A PexAddrs from a peer we had no outstanding request to (CometBFT's ErrUnsolicitedList). */
export class ErrPexUnsolicitedAddrs extends SwitchyardError {
  constructor(readonly peerId: string) {
    super(`peer ${peerId} sent addresses we did not ask for`);
  }
}

/** A 3rd or later PexRequest that came sooner than the minimum interval after the previous one. */
export class ErrPexRequestTooSoon extends SwitchyardError {
  constructor(
    readonly peerId: string,
    readonly sinceLastMs: number,
    readonly minIntervalMs: number,
  ) {
    super(`peer ${peerId} asked for addresses ${sinceLastMs} ms after its previous request; the minimum is ${minIntervalMs} ms`);
  }
}

/** A dial refused by the backoff: the address failed recently and its wait has not passed. */
export class ErrDialTooEarly extends SwitchyardError {
  constructor(
    readonly address: string,
    readonly attempts: number,
    readonly retryAtMs: number,
  ) {
    super(`too early to dial ${address}: ${attempts} failed attempts, next try at ${retryAtMs}`);
  }
}

/** A non-persistent address that failed too many dials in a row; it was banned. */
export class ErrDialMaxAttempts extends SwitchyardError {
  constructor(
    readonly address: string,
    readonly attempts: number,
  ) {
    super(`gave up dialing ${address} after ${attempts} failed attempts; banned`);
  }
}

/** A dial skipped because the outbound budget (max outbound minus outbound and dialing) is spent. */
export class ErrDialBudgetSpent extends SwitchyardError {
  constructor(
    readonly address: string,
    readonly maxOutbound: number,
  ) {
    super(`not dialing ${address}: already at ${maxOutbound} outbound peers and dials`);
  }
}

/** A configured seed that is not a valid `id@host:port` (a fatal configuration error). */
export class ErrPexSeedConfig extends SwitchyardError {
  constructor(
    readonly seed: string,
    readonly reason: string,
  ) {
    super(`p2p.seeds: "${seed}" is not a valid seed address (expected id@host:port): ${reason}`);
  }
}

/** Seeds were configured, none of them resolved, and the address book is empty: nowhere to start. */
export class ErrPexNoReachableSeeds extends SwitchyardError {
  constructor(readonly seeds: readonly string[]) {
    super(`address book is empty and none of the ${seeds.length} seeds could be resolved: ${seeds.join(', ')}`);
  }
}

/** A PexReactor option with a value outside its accepted form. */
export class ErrPexOption extends SwitchyardError {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`PexReactor option ${key} must be ${expected}, got ${String(got)}`);
  }
}
