/**
 * Writes config.toml: every key of the schema, grouped by section, each with its comment and
 * its default (or the value passed in). The output parses back to exactly those values.
 */
import { CONFIG_KEYS, SECTION_ORDER, SECTION_TITLES, dottedKey, type ConfigKeyDef } from './config-schema.js';

export type ConfigValues = Record<string, string | number | boolean>;

function tomlValue(value: string | number | boolean): string {
  if (typeof value === 'string') return JSON.stringify(value); // JSON string escapes are valid TOML basic strings
  return String(value);
}

function renderKey(def: ConfigKeyDef, value: string | number | boolean): string {
  const lines = def.doc.map((line) => `# ${line}`);
  lines.push(`${def.name} = ${tomlValue(value)}`);
  return lines.join('\n');
}

/**
 * The text of a complete config.toml. `values` (keyed by dotted name, e.g. `p2p.seeds`) replace
 * the defaults; a key not in the schema is a programming error and throws.
 */
export function renderConfigToml(values: ConfigValues = {}): string {
  for (const key of Object.keys(values)) {
    if (!CONFIG_KEYS.some((d) => dottedKey(d) === key)) throw new RangeError(`renderConfigToml: unknown key ${key}`);
  }
  const out: string[] = [
    '# Switchyard node configuration.',
    '# Keys and defaults follow CometBFT\'s config.toml; keys marked "Switchyard extension" are ours.',
    '# Command-line flags such as --p2p.seeds override the values here.',
    '',
  ];
  for (const section of SECTION_ORDER) {
    const defs = CONFIG_KEYS.filter((d) => d.section === section);
    out.push(`####### ${SECTION_TITLES[section]} #######`);
    if (section !== '') out.push(`[${section}]`);
    out.push('');
    for (const def of defs) {
      const key = dottedKey(def);
      out.push(renderKey(def, key in values ? values[key] : def.default));
      out.push('');
    }
  }
  return out.join('\n');
}
