/**
 * Reads the network name from a genesis file. Only `chain_id` matters to a p2p node: an operator
 * drops a real chain's genesis.json into config/ to run a node or seed for that chain.
 */
import { readFileSync } from 'node:fs';
import { ErrConfigInvalid } from './errors.js';

/** CometBFT's limit on chain ID length. */
export const MAX_CHAIN_ID_LENGTH = 50;

/** The chain_id of the genesis file at `file`, or undefined when the file does not exist. */
export function readGenesisChainId(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ErrConfigInvalid('genesis_file', 'a readable genesis JSON file', file, { cause: err, file });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ErrConfigInvalid('genesis_file', 'a JSON document with a "chain_id" string', file, { cause: err, file });
  }
  const chainId = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).chain_id : undefined;
  if (typeof chainId !== 'string') {
    throw new ErrConfigInvalid('chain_id', 'a "chain_id" string in the genesis file', chainId === undefined ? undefined : JSON.stringify(chainId), { file });
  }
  const problem = networkNameProblem(chainId);
  if (problem) throw new ErrConfigInvalid('chain_id', problem, JSON.stringify(chainId), { file });
  return chainId;
}

/** Why `name` cannot be a network name (chain ID), or undefined. */
export function networkNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_CHAIN_ID_LENGTH || !/^[\x21-\x7e]+$/.test(name)) {
    return `a network name of 1-${MAX_CHAIN_ID_LENGTH} printable ASCII characters without spaces`;
  }
  return undefined;
}
