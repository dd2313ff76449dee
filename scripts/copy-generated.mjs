// tsc does not copy plain .js files: put the generated protobuf module beside the compiled code.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'p2p', 'proto', 'gen'), join(root, 'dist', 'p2p', 'proto', 'gen'), { recursive: true });
