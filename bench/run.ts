/**
 * `npm run bench [filter]`: runs every `*.bench.js` module beside this file (compiled from
 * bench/*.bench.ts), one after another, each exporting `run(): Promise<void>` that prints its
 * results through `report`. An optional argument keeps only the modules whose name contains it.
 *
 * Each module runs in its own child process: a benchmark then starts with a fresh heap and no
 * threads, sockets or timers left by the one before (the goodput figures of the connection
 * benchmarks moved by a third when they ran after another module in the same process).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--module') {
  // Child: run one module.
  const file = process.argv[3];
  try {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { run: () => Promise<void> };
    await mod.run();
    process.exit(0);
  } catch (err) {
    process.stderr.write(`benchmark ${file} failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

const filter = process.argv[2] ?? '';
const modules = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && f.includes(filter))
  .sort();

let failed = false;
for (const file of modules) {
  const child = spawnSync(process.execPath, [...process.execArgv, self, '--module', file], { stdio: 'inherit' });
  if (child.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
