import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { main } from './cli.ts';

/**
 * `powercut-engine serve`: one long-lived engine process in the target that runs `recover` and
 * `dump` on request, so a trial does not pay a node start (1.8-2.4 s under TCG) for them. One
 * JSON request per line on stdin, `{"id":1,"argv":["fsync","recover","--store",…]}` (the argv
 * of `powercut-engine`), one answer per line on stdout, in order:
 * `{"id":1,"code":0,"stdout":"…","stderr":"…"}`, exactly what the one-shot command would have
 * printed and exited with. It ends when stdin ends. `run` is refused: it owns stdin.
 */
export type ServeRequest = { id: number; argv: string[] };
export type ServeAnswer = { id: number; code: number; stdout: string; stderr: string };

export const servedVerbs: readonly string[] = ['recover', 'dump'];

export async function serve(input: Readable, output: Writable): Promise<void> {
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const answer = await answerOne(line);
    output.write(`${JSON.stringify(answer)}\n`);
  }
}

async function answerOne(line: string): Promise<ServeAnswer> {
  let request: ServeRequest;
  try {
    request = JSON.parse(line) as ServeRequest;
  } catch {
    return {
      id: -1,
      code: 2,
      stdout: '',
      stderr: `serve: not a JSON request: ${line.slice(0, 80)}\n`,
    };
  }
  const { id, argv } = request;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string'))
    return { id, code: 2, stdout: '', stderr: 'serve: argv must be an array of strings\n' };
  return { id, ...(await runServed(argv)) };
}

/**
 * One served command (`recover` or `dump`, the argv of `powercut-engine`): the one-shot
 * command's exit code, stdout and stderr. The trial agent calls it in its own process.
 */
export async function runServed(
  argv: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!servedVerbs.includes(argv[1] ?? ''))
    return {
      code: 2,
      stdout: '',
      stderr: `serve: only ${servedVerbs.join(' and ')} are served, not ${JSON.stringify(argv[1])}\n`,
    };
  const stdout: string[] = [];
  let stderr = '';
  const code = await main([...argv], {
    out: (l) => stdout.push(`${l}\n`),
    err: (t) => (stderr += t),
  });
  return { code, stdout: stdout.join(''), stderr };
}
