/**
 * The `switchyard` commands. `runCli` returns the exit code; `start` resolves only after a
 * SIGINT/SIGTERM-triggered graceful stop. Every failure is one line on stderr: a usage error
 * exits 2, a configuration or runtime error exits 1.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { NodeKey } from '../../p2p/node-key.js';
import { SwitchyardError } from '../../p2p/errors.js';
import { CONFIG_KEYS, dottedKey } from '../config-schema.js';
import type { ConfigValues } from '../config-template.js';
import { defaultHome, initHome } from '../home.js';
import { configFilePath, loadConfig, type ConfigFlags } from '../load-config.js';
import { createNodeLogger } from '../log.js';
import { Node } from '../node.js';
import { packageVersion } from '../version.js';
import { ErrUsage, parseCli, usage } from './args.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Signal source for `start` (default: process). */
  signals?: Pick<NodeJS.Process, 'on' | 'removeListener'>;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = parseCli(argv);
    const home = resolve(args.home ?? defaultHome(io.env));
    switch (args.command) {
      case 'help':
        io.stdout.write(usage(args.helpFor));
        return 0;
      case 'version':
        io.stdout.write(`${packageVersion()}\n`);
        return 0;
      case 'init':
        return init(home, args.flags, io);
      case 'show-node-id':
        io.stdout.write(`${NodeKey.load(loadConfig(home).nodeKeyFile).id}\n`);
        return 0;
      case 'start':
        return await start(home, args.flags, io);
    }
  } catch (err) {
    return fail(err, io);
  }
}

function fail(err: unknown, io: CliIo): number {
  if (err instanceof ErrUsage) {
    io.stderr.write(`switchyard: ${err.message}\n`);
    return 2;
  }
  if (err instanceof SwitchyardError) {
    io.stderr.write(`switchyard: ${err.message}\n`);
    return 1;
  }
  io.stderr.write(`switchyard: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/** Flag text → the TOML value type of its key, for writing into a new config. */
function flagsToValues(flags: ConfigFlags): ConfigValues {
  const out: ConfigValues = {};
  for (const [key, raw] of Object.entries(flags)) {
    if (raw === undefined) continue;
    const def = CONFIG_KEYS.find((d) => dottedKey(d) === key);
    if (!def) continue;
    if (def.kind === 'bool') out[key] = raw === true || raw === 'true';
    else if (def.kind === 'uint' || def.kind === 'positive-int') out[key] = Number(raw);
    else out[key] = String(raw);
  }
  return out;
}

function init(home: string, flags: ConfigFlags, io: CliIo): number {
  if (!existsSync(configFilePath(home))) loadConfig(home, flags); // flags checked (named as flags) before anything is written
  const r = initHome(home, flagsToValues(flags));
  io.stdout.write(
    `${r.configWritten ? 'wrote' : 'kept existing'} ${r.configFile}\n${r.nodeKeyWritten ? 'wrote' : 'kept existing'} ${r.nodeKeyFile}\nnode ID ${r.nodeId}\n`,
  );
  return 0;
}

async function start(home: string, flags: ConfigFlags, io: CliIo): Promise<number> {
  let initialised: string | undefined;
  if (!existsSync(configFilePath(home))) {
    loadConfig(home, flags); // a bad flag must not leave a half-made home behind
    initHome(home);
    initialised = home;
  }
  const config = loadConfig(home, flags);
  // Like CometBFT, a missing key is made at start (the config is valid by now).
  const nodeKey = NodeKey.loadOrGenerate(config.nodeKeyFile);
  const logger = createNodeLogger({ levels: config.logLevel, format: config.logFormat, destination: io.stdout });
  if (initialised) logger.info({ home: initialised, id: nodeKey.id }, 'initialised a new home (config.toml, node_key.json)');
  const node = new Node({ logger }, { config, nodeKey });

  const signals = io.signals ?? process;
  let started = false;
  let stopping = false;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (resolveDone = r));
  const beginStop = (): void => {
    stopping = true;
    node.stop().then(
      () => resolveDone(0),
      (err: unknown) => resolveDone(fail(err, io)),
    );
  };
  let signalsSeen = 0;
  const onSignal = (signal: string): void => {
    signalsSeen++;
    if (signalsSeen > 1) {
      io.stderr.write(`switchyard: ${signal} again; exiting without finishing the stop\n`);
      resolveDone(1);
      return;
    }
    logger.info({ signal }, 'stopping');
    // A signal during start is acted on once start has finished.
    if (started) beginStop();
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  signals.on('SIGINT', onInt);
  signals.on('SIGTERM', onTerm);
  const cleanup = (): void => {
    signals.removeListener('SIGINT', onInt);
    signals.removeListener('SIGTERM', onTerm);
  };
  try {
    await node.start();
  } catch (err) {
    cleanup();
    return fail(err, io);
  }
  started = true;
  if (signalsSeen > 0 && !stopping) beginStop();
  const code = await done;
  cleanup();
  return code;
}
