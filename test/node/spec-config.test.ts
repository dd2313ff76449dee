import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, dottedKey } from '../../node/config-schema.js';
import { METHODS } from '../../node/rpc/methods.js';

describe('spec pages stay true to the code', () => {
  it('spec/config.md lists every key with its kind, default and flag', () => {
    const spec = readFileSync('spec/config.md', 'utf8');
    for (const d of CONFIG_KEYS) {
      const def = typeof d.default === 'string' ? `"${d.default}"` : String(d.default);
      const row = spec.split('\n').find((l) => l.startsWith(`| \`${dottedKey(d)}\``));
      expect(row, dottedKey(d)).toBeDefined();
      expect(row).toContain(`| ${d.kind} | \`${def}\` | ${d.flag ? `\`--${dottedKey(d)}\`` : ''} |`);
    }
  });

  it('spec/node.md documents every RPC method', () => {
    const spec = readFileSync('spec/node.md', 'utf8');
    for (const m of METHODS) expect(spec, m.name).toContain(`| \`${m.name}\``);
  });
});
