/**
 * The package as users get it: `import 'switchyard'` in plain Node ESM (not through vitest's
 * loader) and the `switchyard` bin, both from the compiled output that `npm ci` / `npm test`
 * build first.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = process.cwd();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('package entry', () => {
  it('loads in plain Node ESM and exposes the public API', () => {
    const script = `
      const m = await import('switchyard');
      const names = ['Switch', 'BaseReactor', 'PexReactor', 'AddrBook', 'NodeKey', 'NetAddress', 'SecretConnection',
        'MConnection', 'TcpTransport', 'MemoryNetwork', 'VirtualClock', 'SeededRng', 'Node', 'loadConfig'];
      const missing = names.filter((n) => typeof m[n] !== 'function');
      const key = m.NodeKey.generate();
      process.stdout.write(JSON.stringify({ missing, idLength: key.id.length }));
    `;
    // Resolving the package by its own name goes through package.json "exports", as for users.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ missing: [], idLength: 40 });
  });

  it('runs the switchyard bin', () => {
    const r = spawnSync(process.execPath, [join(root, pkg.bin.switchyard), 'version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toContain(pkg.version);
  });
});
