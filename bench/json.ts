/**
 * JSON text for bench/results/latest.json laid out the way the project's formatter (Biome, line width
 * 110) lays it out, so the generated file passes `biome check`: objects one member per line, arrays on one
 * line when they fit, otherwise one element per line; numbers rounded to `decimals` places. Pure.
 */

/** Line width of biome.json's formatter. */
export const JSON_LINE_WIDTH = 110;

function roundNumbers(value: unknown, decimals: number): unknown {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    const factor = 10 ** decimals;
    return Math.round(value * factor) / factor;
  }
  if (Array.isArray(value)) return value.map((v) => roundNumbers(v, decimals));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = roundNumbers(v, decimals);
    return out;
  }
  return value;
}

function isContainer(value: unknown): boolean {
  return value !== null && typeof value === 'object';
}

function print(value: unknown, indent: string, prefixWidth: number, suffix: string): string {
  if (!isContainer(value)) return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const flat = value.some(isContainer) ? undefined : `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    if (flat !== undefined && prefixWidth + flat.length + suffix.length <= JSON_LINE_WIDTH) return flat;
    const items = value.map((v, i) => {
      const comma = i < value.length - 1 ? ',' : '';
      return `${inner}${print(v, inner, inner.length, comma)}${comma}`;
    });
    return `[\n${items.join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  const members = entries.map(([k, v], i) => {
    const comma = i < entries.length - 1 ? ',' : '';
    const key = `${JSON.stringify(k)}: `;
    return `${inner}${key}${print(v, inner, inner.length + key.length, comma)}${comma}`;
  });
  return `{\n${members.join('\n')}\n${indent}}`;
}

/** The JSON text of `value` (undefined members dropped, non-finite numbers as null), ending in a newline. */
export function formatJson(value: unknown, decimals = 3): string {
  return `${print(roundNumbers(value, decimals), '', 0, '')}\n`;
}
