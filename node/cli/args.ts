/**
 * Command-line parsing for `switchyard` (node:util parseArgs). Override flags are named as
 * CometBFT names them (`--p2p.seeds`, `--rpc.laddr`, `--log_level`), generated from the config
 * schema. Boolean flags accept `--p2p.pex`, `--p2p.pex=true` and `--p2p.pex=false`.
 */
import { parseArgs } from 'node:util';
import { CONFIG_KEYS, OVERRIDE_FLAGS, dottedKey } from '../config-schema.js';
import type { ConfigFlags } from '../load-config.js';
import { SwitchyardError } from '../../p2p/errors.js';

export type Command = 'init' | 'start' | 'show-node-id' | 'version' | 'help';

export interface CliArgs {
  command: Command;
  /** --home, when given. */
  home: string | undefined;
  /** Override flags for `start` (and `init`, which writes them into the new config). */
  flags: ConfigFlags;
  /** Topic of `help <command>` or `<command> --help`. */
  helpFor?: Command;
}

/** The command line is malformed: an unknown command or flag, a missing value. Exit code 2. */
export class ErrUsage extends SwitchyardError {
  constructor(message: string) {
    super(message);
  }
}

const COMMANDS: readonly Command[] = ['init', 'start', 'show-node-id', 'version', 'help'];

const BOOL_FLAGS = new Set(CONFIG_KEYS.filter((d) => d.flag && d.kind === 'bool').map(dottedKey));

/** Flags each command accepts besides --home and --help. */
function flagsOf(command: Command): readonly string[] {
  return command === 'start' || command === 'init' ? OVERRIDE_FLAGS : [];
}

export function parseCli(argv: readonly string[]): CliArgs {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h') return { command: 'help', home: undefined, flags: {} };
  if (first === '--version' || first === '-v') return { command: 'version', home: undefined, flags: {} };
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw new ErrUsage(`unknown command "${first}"; commands: ${COMMANDS.join(', ')}`);
  }
  const command = first as Command;
  const rest = argv.slice(1);
  if (command === 'help') {
    const topic = rest[0];
    if (topic !== undefined && !(COMMANDS as readonly string[]).includes(topic)) throw new ErrUsage(`unknown command "${topic}"`);
    return { command: 'help', home: undefined, flags: {}, helpFor: topic as Command | undefined };
  }

  const accepted = flagsOf(command);
  // A bare boolean flag means true, as with CometBFT's (cobra) flags.
  const normalized = rest.map((a) => (a.startsWith('--') && BOOL_FLAGS.has(a.slice(2)) && accepted.includes(a.slice(2)) ? `${a}=true` : a));
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    home: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const f of accepted) options[f] = { type: 'string' };

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: normalized, options, strict: true, allowPositionals: true });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    const detail = unknown ? `unknown flag ${unknown[1]}` : message.split('\n')[0].replace(/\.$/, '');
    const known = ['--home', ...accepted.map((f) => `--${f}`)].join(', ');
    throw new ErrUsage(`${command}: ${detail}. Flags: ${known}`);
  }
  if (parsed.positionals.length > 0) throw new ErrUsage(`${command}: unexpected argument "${parsed.positionals[0]}"`);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) return { command: 'help', home: undefined, flags: {}, helpFor: command };
  const home = values.home as string | undefined;
  if (home !== undefined && home.trim() === '') throw new ErrUsage(`${command}: --home needs a directory`);
  const flags: Record<string, string> = {};
  for (const f of accepted) {
    const v = values[f];
    if (typeof v === 'string') flags[f] = v;
  }
  return { command, home, flags };
}

export function usage(command?: Command): string {
  const overrides = OVERRIDE_FLAGS.map((f) => `  --${f}${BOOL_FLAGS.has(f) ? '[=true|false]' : ' <value>'}`).join('\n');
  switch (command) {
    case 'init':
      return `Usage: switchyard init [--home DIR] [override flags]\n\nCreates DIR/config/config.toml (the flags' values written in) and DIR/config/node_key.json.\nExisting files are never overwritten. DIR defaults to $SWITCHYARD_HOME or ~/.switchyard.\n\nFlags:\n${overrides}\n`;
    case 'start':
      return `Usage: switchyard start [--home DIR] [override flags]\n\nRuns the node; initialises DIR first when it has no config. SIGINT/SIGTERM stop it\ngracefully (peers closed, address book saved).\n\nOverride flags (they win over config.toml):\n${overrides}\n`;
    case 'show-node-id':
      return 'Usage: switchyard show-node-id [--home DIR]\n\nPrints the node ID of DIR/config/node_key.json.\n';
    case 'version':
      return 'Usage: switchyard version\n';
    default:
      return [
        'switchyard: a CometBFT-compatible peer-to-peer node',
        '',
        'Usage: switchyard <command> [flags]',
        '',
        'Commands:',
        '  init          create a home directory (config.toml and node_key.json)',
        '  start         run the node (initialising the home if needed)',
        '  show-node-id  print this node\'s ID',
        '  version       print the version',
        '  help [cmd]    show help',
        '',
        'Run "switchyard help <command>" for its flags.',
        '',
      ].join('\n');
  }
}
