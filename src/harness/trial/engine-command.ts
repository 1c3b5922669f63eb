import { shellQuote } from '../target/shell.ts';
import { engineModes } from '../../engine/registry.ts';
import type { EngineOptions } from '../../engine/engine.ts';
import { canPause, type EngineSpec } from '../../model/trial-plan.ts';
import { guestEngineCommand } from './guest-engine.ts';

/** Shell-quotes one argument for `sh -c` (always in single quotes). */
export const quote = shellQuote;

/** Engine options for a built-in engine (also used to size its store). */
export function builtinOptions(
  engine: EngineSpec & { kind: 'builtin' },
  pages: number,
): EngineOptions {
  return {
    pageSize: engine.pageSize,
    pages,
    writers: engine.writers,
    batchWindowUs: engine.batchWindowUs,
    batchMaxOps: engine.batchMax,
    ...(engine.bug ? { bug: engine.bug } : {}),
    ...(engine.protection ? { protection: engine.protection } : {}),
  };
}

/** Bytes to preallocate for the engine's store (a file store; a directory store has none). */
export function storeSize(engine: EngineSpec, pages: number): number {
  if (engine.kind === 'builtin')
    return engineModes[engine.mode].storeSize(builtinOptions(engine, pages));
  // External engines get room for a CoW-style layout: meta, maps and two versions of each page.
  return (pages * 2 + 64) * engine.pageSize;
}

/**
 * The command line of one protocol verb. Every engine gets the v1 options and `--pages`; a
 * user's engine its `env` (before the command: it runs under `sh -c`) and its `args` (after);
 * built-in ones also the built-in extensions (--pause-at, batch settings, --bug).
 */
export function engineCommand(
  engine: EngineSpec,
  verb: 'run' | 'recover' | 'dump',
  store: string,
  pages: number,
  pauseAt: readonly string[] = [],
): string {
  if (pauseAt.length > 0 && !canPause(engine))
    throw new Error('a user engine gets --pause-at only if it declares supports: [pause-at]');
  if (engine.kind === 'external') {
    const args = [...protocolArgs(engine, verb, store, pages, pauseAt), ...engine.args];
    const env = Object.entries(engine.env).map(([k, v]) => `${k}=${quote(v)} `);
    return `${env.join('')}${engine.command} ${args.map(quote).join(' ')}`;
  }
  const argv = builtinEngineArgv(engine, verb, store, pages, pauseAt);
  return `${guestEngineCommand} ${argv.map(quote).join(' ')}`;
}

/** The v1 arguments every engine gets (and --pause-at when it may pause). */
function protocolArgs(
  engine: EngineSpec,
  verb: 'run' | 'recover' | 'dump',
  store: string,
  pages: number,
  pauseAt: readonly string[],
): string[] {
  const args = [verb, '--store', store, '--page-size', String(engine.pageSize)];
  if (engine.direct) args.push('--direct');
  if (verb === 'run' && engine.writers > 1) args.push('--writers', String(engine.writers));
  if (verb === 'run') for (const mark of pauseAt) args.push('--pause-at', mark);
  args.push('--pages', String(pages));
  return args;
}

/** A built-in engine's `powercut-engine` arguments for one verb, the mode first. */
export function builtinEngineArgv(
  engine: EngineSpec & { kind: 'builtin' },
  verb: 'run' | 'recover' | 'dump',
  store: string,
  pages: number,
  pauseAt: readonly string[] = [],
): string[] {
  const args = protocolArgs(engine, verb, store, pages, pauseAt);
  if (verb === 'run') {
    args.push(
      '--batch-window-us',
      String(engine.batchWindowUs),
      '--batch-max',
      String(engine.batchMax),
    );
  }
  if (engine.bug) args.push('--bug', engine.bug);
  if (engine.protection) args.push('--protection', engine.protection);
  return [engine.mode, ...args];
}

/**
 * Built-in engines recover and dump in one request to the target's engine server
 * (`recover --then-dump`, engine-server.ts): under TCG every node start in the guest costs
 * over a second. A user's engine gets the two v1 verbs (undefined here).
 */
export function recoverAndDumpArgv(
  engine: EngineSpec,
  store: string,
  pages: number,
): string[] | undefined {
  return engine.kind === 'builtin'
    ? [...builtinEngineArgv(engine, 'recover', store, pages), '--then-dump']
    : undefined;
}
