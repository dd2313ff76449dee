// tsc copies no plain .js/.cjs files: put the generated protobuf module and the frame crypto
// worker (plain CommonJS, so the same file runs from the sources in tests) beside the compiled code.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'p2p', 'proto', 'gen'), join(root, 'dist', 'p2p', 'proto', 'gen'), { recursive: true });
cpSync(join(root, 'p2p', 'conn', 'frame-crypto-worker.cjs'), join(root, 'dist', 'p2p', 'conn', 'frame-crypto-worker.cjs'));
