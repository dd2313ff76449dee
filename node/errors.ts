/**
 * Errors raised by the node layer. Bad input from a user (config file, CLI flags, RPC params)
 * fails fast with one message that names the key or flag and the accepted form.
 */
import { SwitchyardError } from '../p2p/errors.js';

/** A configuration value (from config.toml, a CLI flag or genesis.json) is unusable. */
export class ErrConfigInvalid extends SwitchyardError {
  /** Where the value came from: `p2p.send_rate` (file key), `--p2p.seeds` (flag), or a file path. */
  readonly key: string;
  /** The accepted form, in words: "a non-negative integer", "a duration such as \"100ms\"". */
  readonly expected: string;
  /** The offending value as text, when there is one. */
  readonly got: string | undefined;

  constructor(key: string, expected: string, got?: string, options?: { cause?: unknown; file?: string }) {
    const where = options?.file ? `${options.file}: ` : '';
    const value = got === undefined ? '' : ` = ${got}`;
    super(`${where}${key}${value} is invalid: expected ${expected}`, options);
    this.key = key;
    this.expected = expected;
    this.got = got;
  }
}

/** config.toml exists but is not valid TOML, or cannot be read. */
export class ErrConfigUnreadable extends SwitchyardError {
  readonly file: string;
  readonly line: number | undefined;
  constructor(file: string, reason: string, line?: number, options?: { cause?: unknown }) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`, options);
    this.file = file;
    this.line = line;
  }
}

/** config.toml (or the flags) name a key Switchyard does not know: almost always a typo. */
export class ErrConfigUnknownKey extends SwitchyardError {
  readonly key: string;
  readonly known: readonly string[];
  constructor(key: string, known: readonly string[], file?: string) {
    const where = file ? `${file}: ` : '';
    super(`${where}unknown key ${key}: expected one of ${known.join(', ')}`);
    this.key = key;
    this.known = known;
  }
}
