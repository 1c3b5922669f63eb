/**
 * Commands for a target's `sh -c`, quoted by construction: every value put into a `sh`
 * template is one shell word, whatever it holds (spaces, quotes, `$(...)`, newlines), so a
 * value from a scenario or a stored trial can never become shell syntax. Fragments that are
 * shell syntax on purpose go in through `raw()`, and only there.
 */

/** A piece of shell text that is meant as syntax (an operator, a fixed flag list). */
export class RawShell {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export const raw = (text: string): RawShell => new RawShell(text);

/** `text` in single quotes, always: one shell word holding exactly it. */
export const shellQuote = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;

/** One shell word holding exactly `text` (left bare when it needs no quotes, for readable logs). */
export const quoteWord = (text: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : shellQuote(text);

export type ShellValue = string | number | RawShell | readonly (string | number)[];

function word(value: ShellValue): string {
  if (value instanceof RawShell) return value.text;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`not a number for a shell word: ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return quoteWord(value);
  return value.map((v) => word(v)).join(' ');
}

/**
 * sh`mount -t ${fs} ${device} ${mountPoint}`: the template's text as written, each value one
 * quoted word (an array: one word per element; raw(): as is).
 */
export function sh(strings: TemplateStringsArray, ...values: readonly ShellValue[]): string {
  return strings.reduce(
    (out, text, i) => out + text + (i < values.length ? word(values[i]!) : ''),
    '',
  );
}
