/**
 * Typed errors of the address book: one class per condition, with the offending address as a
 * structured field. Names follow CometBFT's `ErrAddrBook*` where one exists.
 */
import { SwitchyardError } from '../p2p/errors.js';

/** Common base so callers can catch every refusal of `addAddress` at once. */
export class ErrAddrBookRefused extends SwitchyardError {
  constructor(
    message: string,
    readonly addr: string,
  ) {
    super(message);
  }
}

/** addAddress got no address or no source. */
export class ErrAddrBookNilAddr extends ErrAddrBookRefused {
  constructor(readonly which: 'addr' | 'src') {
    super(`cannot add a missing ${which === 'addr' ? 'address' : 'source address'}`, '');
  }
}

/** The address fails NetAddress validation (bad ID, bad IP, port 0...). */
export class ErrAddrBookInvalidAddr extends ErrAddrBookRefused {
  constructor(
    addr: string,
    readonly reason: string,
  ) {
    super(`cannot add invalid address ${addr}: ${reason}`, addr);
  }
}

/** The ID is in the ban list (until `reinstateBadPeers` brings it back, even after expiry). */
export class ErrAddressBanned extends ErrAddrBookRefused {
  constructor(
    addr: string,
    readonly bannedUntilMs: number,
  ) {
    super(`address ${addr} is banned`, addr);
  }
}

/** The address's ID is one of the private peer IDs. */
export class ErrAddrBookPrivate extends ErrAddrBookRefused {
  constructor(addr: string) {
    super(`cannot add private peer address ${addr}`, addr);
  }
}

/** The address was learned from a private peer. */
export class ErrAddrBookPrivateSrc extends ErrAddrBookRefused {
  constructor(
    addr: string,
    readonly src: string,
  ) {
    super(`cannot add address ${addr} learned from private peer ${src}`, addr);
  }
}

/** The address is one of our own. */
export class ErrAddrBookSelf extends ErrAddrBookRefused {
  constructor(addr: string) {
    super(`cannot add our own address ${addr}`, addr);
  }
}

/** Strict mode refuses addresses that are not routable on the public internet. */
export class ErrAddrBookNonRoutable extends ErrAddrBookRefused {
  constructor(addr: string) {
    super(`cannot add non-routable address ${addr} (routabilityStrict is on)`, addr);
  }
}

/** A user option has the wrong form. */
export class ErrAddrBookOption extends SwitchyardError {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`AddrBook option ${key} must be ${expected}, got ${JSON.stringify(got)}`);
  }
}

/** The address-book file is not a valid address book; `reason` says where it went wrong. */
export class ErrAddrBookFileCorrupt extends SwitchyardError {
  constructor(
    readonly filePath: string,
    readonly reason: string,
  ) {
    super(`address book file ${filePath} is corrupt: ${reason}`);
  }
}

/** `checkInvariants` found the in-memory structure inconsistent (a bug, never bad input). */
export class ErrAddrBookInvariant extends SwitchyardError {
  constructor(readonly violation: string) {
    super(`address book invariant violated: ${violation}`);
  }
}

/**
 * A `saveAsync()` whose snapshot was never written because the book was stopped with
 * `{ save: false }` (the session was abandoned) before the save could replace the file.
 */
export class ErrAddrBookSaveAbandoned extends SwitchyardError {
  constructor(readonly filePath: string) {
    super(`address book save to ${filePath} was abandoned: the book was stopped without saving`);
  }
}
