/** Errors raised by transports while listening and dialing. */
import { SwitchyardError } from '../errors.js';

export class ErrDialTimeout extends SwitchyardError {
  constructor(
    readonly ip: string,
    readonly port: number,
    readonly timeoutMs: number,
  ) {
    super(`dial ${ip}:${port} timed out after ${timeoutMs} ms`);
  }
}

export class ErrConnectionRefused extends SwitchyardError {
  constructor(
    readonly ip: string,
    readonly port: number,
  ) {
    super(`connection to ${ip}:${port} refused`);
  }
}

/** Any other dial failure (unreachable network, reset, ...); `cause` holds the system error. */
export class ErrDialFailed extends SwitchyardError {
  constructor(
    readonly ip: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(`dial ${ip}:${port} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

export class ErrDialAborted extends SwitchyardError {
  constructor(
    readonly ip: string,
    readonly port: number,
  ) {
    super(`dial ${ip}:${port} aborted`);
  }
}

export class ErrTransportClosed extends SwitchyardError {
  constructor(readonly operation: string) {
    super(`transport is closed (${operation})`);
  }
}

export class ErrTransportListening extends SwitchyardError {
  constructor() {
    super('transport is already listening');
  }
}

/** Bad user input: the listen address cannot be bound (port in use, address not local, ...). */
export class ErrListenFailed extends SwitchyardError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(`cannot listen on ${host}:${port}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
