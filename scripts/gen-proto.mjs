// Generates the static protobuf code for our .proto files (protobufjs pbjs + pbts) into
// p2p/proto/gen/. Skips the work when the output is newer than every .proto file, so
// `npm test` stays fast; the output is never edited by hand and is not committed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'proto');
const outDir = join(root, 'p2p', 'proto', 'gen');
const outJs = join(outDir, 'wire.js');
const outDts = join(outDir, 'wire.d.ts');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const protoFiles = readdirSync(join(protoDir, 'switchyard'))
  .filter((f) => f.endsWith('.proto'))
  .map((f) => join(protoDir, 'switchyard', f));

const newestInput = Math.max(
  ...protoFiles.map((f) => statSync(f).mtimeMs),
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
);
if (existsSync(outJs) && existsSync(outDts) && statSync(outDts).mtimeMs >= newestInput) process.exit(0);

mkdirSync(outDir, { recursive: true });
execFileSync(
  bin('pbjs'),
  ['-t', 'static-module', '-w', 'es6', '--force-number', '--no-verify', '--no-convert', '--no-delimited', '-p', protoDir, '-o', outJs, ...protoFiles],
  { cwd: protoDir, stdio: 'inherit' },
);
// protobufjs is CommonJS: Node's ESM loader needs the file extension on its subpath and exposes
// module.exports as the default import (a namespace import would miss the runtime's members).
const js = readFileSync(outJs, 'utf8').replace(/import \* as \$protobuf from "protobufjs\/minimal";/, 'import $protobuf from "protobufjs/minimal.js";');
writeFileSync(outJs, js);
execFileSync(bin('pbts'), ['-o', outDts, outJs], { stdio: 'inherit' });
