/**
 * CometBFT's log_level syntax: either one level for everything ("info") or a comma-separated list
 * of module:level pairs where "*" sets the default ("p2p:debug,pex:info,*:error").
 */

export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Accepted spellings; "none" is CometBFT's word for "nothing", "silent" is pino's. */
const LEVEL_ALIASES: Record<string, LevelName> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  none: 'silent',
  silent: 'silent',
};

export const LOG_LEVEL_FORM =
  'a level (trace, debug, info, warn, error, none) or module:level pairs such as "p2p:debug,*:info"';

export interface LogLevels {
  /** Level of modules not listed. */
  defaultLevel: LevelName;
  /** Per-module overrides. */
  modules: ReadonlyMap<string, LevelName>;
}

/** Parses a log_level value, or gives the reason it is malformed. */
export function parseLogLevel(text: string): LogLevels | { problem: string } {
  const s = text.trim();
  if (s === '') return { problem: 'empty log level' };
  if (!s.includes(':') && !s.includes(',')) {
    const level = LEVEL_ALIASES[s.toLowerCase()];
    return level ? { defaultLevel: level, modules: new Map() } : { problem: `unknown level "${s}"` };
  }
  let defaultLevel: LevelName = 'info';
  const modules = new Map<string, LevelName>();
  for (const item of s.split(',')) {
    const pair = item.trim();
    const parts = pair.split(':');
    if (parts.length !== 2 || parts[0].trim() === '' || parts[1].trim() === '') {
      return { problem: `"${pair}" is not module:level` };
    }
    const module = parts[0].trim();
    const level = LEVEL_ALIASES[parts[1].trim().toLowerCase()];
    if (!level) return { problem: `unknown level "${parts[1].trim()}" for module "${module}"` };
    if (module === '*') defaultLevel = level;
    else if (modules.has(module)) return { problem: `module "${module}" is listed twice` };
    else modules.set(module, level);
  }
  return { defaultLevel, modules };
}

/**
 * Our finer module names and the CometBFT module they belong to, so "p2p:debug" reaches the
 * Switch and transports as it does in CometBFT (where they all log as "p2p").
 */
export const MODULE_GROUPS: Readonly<Record<string, string>> = {
  switch: 'p2p',
  'tcp-transport': 'p2p',
  'memory-transport': 'p2p',
  mconnection: 'p2p',
  peer: 'p2p',
};

/** A module's level: its own entry, else its group's (see MODULE_GROUPS), else the default. */
export function levelFor(levels: LogLevels, module: string | undefined): LevelName {
  if (module === undefined) return levels.defaultLevel;
  const own = levels.modules.get(module);
  if (own) return own;
  const group = MODULE_GROUPS[module];
  return (group !== undefined && levels.modules.get(group)) || levels.defaultLevel;
}
