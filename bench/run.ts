/**
 * `npm run bench [filter]`: runs every `*.bench.js` module beside this file (compiled from
 * bench/*.bench.ts), one after another, each exporting `run(): Promise<void>` that prints its
 * results through `report`. An optional argument keeps only the modules whose name contains it.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const modules = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && f.includes(filter))
  .sort();

let failed = false;
for (const file of modules) {
  try {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { run: () => Promise<void> };
    await mod.run();
  } catch (err) {
    failed = true;
    process.stderr.write(`benchmark ${file} failed: ${(err as Error).stack ?? String(err)}\n`);
  }
}
process.exit(failed ? 1 : 0);
