/** Logging goes through pino child loggers, one per module (`{ module: 'pex' }`). */
import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger that drops everything: the default for components constructed without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
