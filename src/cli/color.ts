/**
 * Whether to colour output, and the few ANSI styles the CLI uses. Colour only on a terminal: never in a
 * pipe or file, never with NO_COLOR (https://no-color.org: set and not empty), always with FORCE_COLOR
 * (set, not empty, not '0'); `--color` / `--no-color` on the command line win over both.
 */
import { envVariable } from '../env-variable.js';

/** What the colour decision looks at. */
export interface ColorFacts {
  /** `stream.isTTY` of the stream the text goes to. */
  isTTY: boolean | undefined;
  /** The environment (NO_COLOR, FORCE_COLOR, TERM). */
  env: Readonly<Record<string, string | undefined>>;
  /** From the command line: 'always' (--color), 'never' (--no-color) or 'auto' (neither). */
  flag: 'auto' | 'always' | 'never';
}

/** Decides colour: flag, then NO_COLOR, then FORCE_COLOR, then "a terminal that is not TERM=dumb". */
export function shouldColor(facts: ColorFacts): boolean {
  if (facts.flag !== 'auto') return facts.flag === 'always';
  const noColor = envVariable(facts.env, 'NO_COLOR');
  if (noColor !== undefined && noColor !== '') return false;
  const force = envVariable(facts.env, 'FORCE_COLOR');
  if (force !== undefined && force !== '' && force !== '0') return true;
  return facts.isTTY === true && envVariable(facts.env, 'TERM') !== 'dumb';
}

/** The styles text can take; each returns its input unchanged when colour is off. */
export interface Style {
  readonly color: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  magenta(text: string): string;
}

function sgr(open: number, close: number, on: boolean): (text: string) => string {
  return on ? (text) => (text === '' ? text : `\u001b[${open}m${text}\u001b[${close}m`) : (text) => text;
}

/** A Style that colours when `color` is true and is the identity otherwise. */
export function makeStyle(color: boolean): Style {
  return {
    color,
    bold: sgr(1, 22, color),
    dim: sgr(2, 22, color),
    red: sgr(31, 39, color),
    green: sgr(32, 39, color),
    yellow: sgr(33, 39, color),
    cyan: sgr(36, 39, color),
    magenta: sgr(35, 39, color),
  };
}

/** The visible width of `text` (ANSI colour sequences removed). */
export function visibleLength(text: string): number {
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** `text` padded with spaces to `width` visible columns. */
export function padVisible(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}
