/**
 * `switchyard init`: a home directory with config/config.toml and config/node_key.json. Existing
 * files are never overwritten: an existing config is kept (and must be valid), an existing key is
 * kept (and must load). Files are written atomically, so a crash leaves no half-written file.
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { ErrNodeKeyNotFound, NodeKey } from '../p2p/node-key.js';
import { renderConfigToml, type ConfigValues } from './config-template.js';
import { checkConfigText, configFilePath, defaultMoniker, loadConfig } from './load-config.js';
import { SwitchyardError } from '../p2p/errors.js';

/** Where a home lives when neither --home nor SWITCHYARD_HOME says otherwise. */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SWITCHYARD_HOME;
  return fromEnv && fromEnv.length > 0 ? fromEnv : join(homedir(), '.switchyard');
}

export class ErrInitWrite extends SwitchyardError {
  constructor(readonly path: string, cause: unknown) {
    super(`cannot write ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface InitResult {
  configFile: string;
  configWritten: boolean;
  nodeKeyFile: string;
  nodeKeyWritten: boolean;
  nodeId: string;
}

/**
 * Creates what is missing of a home. `values` (dotted keys) go into a new config.toml; the
 * moniker defaults to the host name. Checks everything before writing anything.
 */
export function initHome(home: string, values: ConfigValues = {}): InitResult {
  const configFile = configFilePath(home);
  const configExists = existsSync(configFile);
  const text = configExists ? undefined : renderConfigToml({ moniker: defaultMoniker(), ...values });
  // An existing config must be valid (its node_key_file says where the key goes); a new one is
  // validated by loading it from memory before it is written.
  const config = text === undefined ? loadConfig(home) : checkConfigText(home, text);
  const nodeKeyFile = config.nodeKeyFile;

  let key: NodeKey | undefined;
  let keyIsNew = false;
  try {
    key = NodeKey.load(nodeKeyFile);
  } catch (err) {
    if (!(err instanceof ErrNodeKeyNotFound)) throw err;
    key = NodeKey.generate();
    keyIsNew = true;
  }

  let configWritten = false;
  if (text !== undefined) configWritten = writeNewFile(configFile, text, 0o644);
  if (keyIsNew) key.save(nodeKeyFile);
  return { configFile, configWritten, nodeKeyFile, nodeKeyWritten: keyIsNew, nodeId: key.id };
}

/**
 * Writes `text` to `path` only if nothing is there: temp file, fsync, then link (which fails when
 * the target exists). Returns false when a file appeared first.
 */
function writeNewFile(path: string, text: string, mode: number): boolean {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'wx', mode);
    try {
      const data = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } catch (err) {
    throw new ErrInitWrite(path, err);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}
