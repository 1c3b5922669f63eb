import { distance } from 'fastest-levenshtein';

/**
 * The nearest of `candidates` to a misspelt `word`, if it is near enough to be a slip of the
 * keyboard (`fsnyc` → `fsync`, `kindd` → `kind`), else undefined.
 * @example nearest('fsnyc', ['plain', 'fsync', 'cow']) // 'fsync'
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (!best || d < best.d) best = { candidate, d };
  }
  if (!best) return undefined;
  // Up to a third of the word, rounded up, at most 3: one slip in a short word, a swap (two
  // edits) in a longer one.
  const limit = Math.max(
    1,
    Math.min(3, Math.ceil(Math.max(word.length, best.candidate.length) / 3)),
  );
  return best.d <= limit ? best.candidate : undefined;
}

/** `"a", "b" or "c"` for a message. */
export function listOf(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length <= 1
    ? (shown[0] ?? '')
    : `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}`;
}
