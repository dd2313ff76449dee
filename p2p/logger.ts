/**
 * Logging goes through child loggers, one per module (`{ module: 'pex' }`). Components accept any
 * logger of this shape; a pino logger (whatever its custom levels) is one, which is why this is a
 * structural type rather than pino's own generic `Logger`.
 */
import { pino } from 'pino';

export interface LogFn {
  (obj: unknown, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** A logger that drops everything: the default for components constructed without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
