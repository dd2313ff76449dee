/**
 * The node's root logger: pino, human-readable ("plain", via pino-pretty; colours only on a
 * terminal) or JSON lines ("json"). Per-module levels follow CometBFT's log_level syntax: a child
 * created with `{ module: 'p2p' }` gets the level listed for "p2p", everything else the default.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { levelFor, type LogLevels } from './log-level.js';

export interface NodeLoggerOptions {
  levels: LogLevels;
  /** "plain" (default): one readable line per entry; "json": pino's JSON lines. */
  format?: 'plain' | 'json';
  /** Where entries go. Default: process.stdout. */
  destination?: NodeJS.WritableStream;
  /** Colours in plain format. Default: whether the destination is a terminal. */
  color?: boolean;
}

export function createNodeLogger(options: NodeLoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const levels = options.levels;
  const pinoOptions = {
    level: levels.defaultLevel,
    // Called for every child; a child that names a module takes that module's level. Children
    // of that child inherit it, so `logger.child({ module: 'p2p' }).child({ peer })` keeps it.
    onChild(child: Logger): void {
      const module = child.bindings().module;
      if (typeof module === 'string') child.level = levelFor(levels, module);
    },
  };
  if (options.format === 'json') return pino(pinoOptions, destination);
  const isTty = (destination as { isTTY?: boolean }).isTTY === true;
  const stream = pretty({
    colorize: options.color ?? isTty,
    destination,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,module',
    messageFormat: '{if module}[{module}] {end}{msg}',
  });
  return pino(pinoOptions, stream);
}
