import type { Readable } from 'node:stream';

/** Splits a byte stream into lines (without the newline), as an async iterator. */
export async function* lineStream(stream: Readable): AsyncGenerator<string, void, undefined> {
  let rest = '';
  for await (const chunk of stream) {
    rest += chunk.toString();
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== '') yield rest;
}
