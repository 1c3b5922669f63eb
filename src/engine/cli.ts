import { parseArgs } from 'node:util';
import { realClock } from './clock.ts';
import type { EngineContext, EngineOptions, PlantedBug, Protection } from './engine.ts';
import { defaultEngineOptions } from './engine.ts';
import { openStoreFile } from './file-store.ts';
import { InputQueue } from './input-queue.ts';
import { AckGate, ackPauseName } from './ack-gate.ts';
import { formatDumpEntry, formatEvent, ProtocolError } from './protocol.ts';
import { getEngineMode } from './registry.ts';
import type { EngineEvent } from '../model/history.ts';

/**
 * `powercut-engine <mode> run|recover|dump --store PATH ...`: the built-in engines behind the
 * engine protocol (docs/engine-protocol.md), the same contract a user's engine implements.
 */
type Flags = {
  store: string;
  pageSize: number;
  pages?: number;
  direct?: boolean;
  writers: number;
  batchWindowUs: number;
  batchMax: number;
  bug?: PlantedBug;
  protection?: Protection;
  pauseAt: string[];
  thenDump?: boolean;
};

/** One option of the verbs: its flag, what it takes, and what `--help` says of it. */
type OptionSpec = {
  key: keyof Flags;
  type: 'string' | 'boolean';
  int?: boolean;
  multiple?: boolean;
  arg?: string;
  help: string;
  default?: number;
};

const optionSpecs: Record<string, OptionSpec> = {
  store: { key: 'store', type: 'string', arg: '<path>', help: 'the store file or block device' },
  'page-size': {
    key: 'pageSize',
    type: 'string',
    int: true,
    arg: '<bytes>',
    help: 'page size',
    default: defaultEngineOptions.pageSize,
  },
  pages: {
    key: 'pages',
    type: 'string',
    int: true,
    arg: '<n>',
    help: 'logical pages (default: derived from the store size)',
  },
  direct: { key: 'direct', type: 'boolean', help: 'open with O_DIRECT (aligned buffers)' },
  writers: {
    key: 'writers',
    type: 'string',
    int: true,
    arg: '<n>',
    help: 'concurrent writers (group-commit)',
    default: defaultEngineOptions.writers,
  },
  'batch-window-us': {
    key: 'batchWindowUs',
    type: 'string',
    int: true,
    arg: '<us>',
    help: 'group-commit batch window',
    default: defaultEngineOptions.batchWindowUs,
  },
  'batch-max': {
    key: 'batchMax',
    type: 'string',
    int: true,
    arg: '<n>',
    help: 'group-commit batch size limit',
    default: defaultEngineOptions.batchMaxOps,
  },
  bug: { key: 'bug', type: 'string', arg: '<name>', help: 'a planted bug (tests of the checkers)' },
  protection: {
    key: 'protection',
    type: 'string',
    arg: '<how>',
    help: 'slotted: none (in place) or doublewrite',
  },
  'then-dump': {
    key: 'thenDump',
    type: 'boolean',
    help: 'recover: print the dump after a successful recovery (one process)',
  },
  'pause-at': {
    key: 'pauseAt',
    type: 'string',
    multiple: true,
    arg: '<mark>',
    help: 'pause at this mark until {"op":"resume"} (repeatable; `ack`: after every acknowledgement)',
  },
};

const verbs = ['run', 'recover', 'dump'] as const;

function usage(modeName: string): string {
  const options = Object.entries(optionSpecs).map(([name, o]) => {
    const flag = `--${name}${o.arg ? ` ${o.arg}` : ''}`;
    return `  ${flag.padEnd(26)} ${o.help}${o.default !== undefined ? ` (default: ${o.default})` : ''}`;
  });
  return [
    `Usage: powercut-engine ${modeName || '<mode>'} run|recover|dump --store <path> [options]`,
    '',
    'built-in engines (plain, fsync, group-commit, cow, slotted) speaking the powercut engine protocol v1',
    '',
    'Options:',
    ...options,
    `  ${'-h, --help'.padEnd(26)} display help`,
  ].join('\n');
}

/** A usage error: exit 2, one line on stderr. */
class UsageError extends Error {}

/**
 * A verb's flags from its arguments, by node's own parser (util.parseArgs): in the guest, where
 * every trial starts this CLI under TCG, commander (124 KB of the 180 KB bundle) cost 40-60 ms
 * of each start (593-683 ms against 556-635).
 */
function parseFlags(args: string[]): Flags {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: Object.fromEntries(
      Object.entries(optionSpecs).map(([name, o]) => [
        name,
        { type: o.type, ...(o.multiple ? { multiple: true } : {}) },
      ]),
    ),
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const flags: Record<string, unknown> = { pauseAt: [] };
  for (const [name, o] of Object.entries(optionSpecs)) {
    const value = values[name] ?? o.default;
    if (value === undefined) continue;
    if (o.int && typeof value === 'string') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0)
        throw new UsageError(`--${name} ${JSON.stringify(value)}: must be a non-negative integer`);
      flags[o.key] = n;
    } else flags[o.key] = value;
  }
  if (flags.store === undefined)
    throw new UsageError("required option '--store <path>' not specified");
  return flags as Flags;
}

async function context(modeName: string, flags: Flags): Promise<EngineContext> {
  const mode = getEngineMode(modeName);
  const file = await openStoreFile(flags.store, { direct: flags.direct ?? false });
  const base: Omit<EngineOptions, 'pages'> = {
    pageSize: flags.pageSize,
    writers: flags.writers,
    batchWindowUs: flags.batchWindowUs,
    batchMaxOps: flags.batchMax,
    ...(flags.bug ? { bug: flags.bug } : {}),
    ...(flags.protection ? { protection: flags.protection } : {}),
  };
  const pages =
    flags.pages ?? derivePages(file.size(), (p) => mode.storeSize({ ...base, pages: p }));
  const options: EngineOptions = { ...base, pages };
  if (file.size() < mode.storeSize(options)) {
    await file.close();
    throw new Error(
      `store ${flags.store} is ${file.size()} bytes; ${mode.name} needs ${mode.storeSize(options)} for ${pages} pages`,
    );
  }
  return { file, clock: realClock, options };
}

/** The largest page count whose store fits in `size` bytes. */
function derivePages(size: number, storeSize: (pages: number) => number): number {
  let lo = 0;
  let hi = 1;
  while (storeSize(hi) <= size && hi < 1 << 24) hi *= 2;
  while (lo < hi - 1) {
    const mid = (lo + hi) >> 1;
    if (storeSize(mid) <= size) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Where a verb's output goes: the process's stdout/stderr, or buffers (serve.ts). */
export type EngineIo = { out: (line: string) => void; err: (text: string) => void };
const processIo: EngineIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (text) => process.stderr.write(text),
};

/** Runs one verb; resolves to its exit code (0 ok, 1 failed, 2 protocol or usage error). */
export async function main(argv: string[], io: EngineIo = processIo): Promise<number> {
  const write = io.out;
  const [modeName = '', verb = '', ...args] = argv;
  if (verb === '--help' || verb === '-h' || args.includes('--help') || args.includes('-h')) {
    io.out(usage(modeName));
    return 0;
  }
  try {
    const mode = getEngineMode(modeName);
    if (!(verbs as readonly string[]).includes(verb))
      throw new UsageError(`unknown verb ${JSON.stringify(verb)}: use run, recover or dump`);
    const flags = parseFlags(args);
    const ctx = await context(modeName, flags);
    // Closed however the verb ends: a long-lived server (serve.ts) must not keep the store
    // open, or the filesystem under it would not unmount.
    try {
      await runVerb(verb as (typeof verbs)[number], mode, ctx, flags, write);
    } finally {
      await ctx.file.close();
    }
    return 0;
  } catch (error) {
    // recover's contract: non-zero with one line on stderr saying why.
    const parseError = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_');
    io.err(`${(error as Error).message.split('\n')[0]}\n`);
    if (error instanceof UsageError || parseError) {
      io.err(`(powercut-engine ${modeName || '<mode>'} --help for usage)\n`);
      return 2;
    }
    return error instanceof ProtocolError ? 2 : 1;
  }
}

async function runVerb(
  verb: 'run' | 'recover' | 'dump',
  mode: ReturnType<typeof getEngineMode>,
  ctx: EngineContext,
  flags: Flags,
  write: (line: string) => void,
): Promise<void> {
  if (verb === 'run') {
    const input = new InputQueue(process.stdin);
    const pauseAt = new Set(flags.pauseAt);
    let emit = (e: EngineEvent): void =>
      write(formatEvent(e.type === 'mark' && pauseAt.has(e.name) ? { ...e, paused: true } : e));
    let runCtx = ctx;
    if (pauseAt.has(ackPauseName)) {
      const gate = new AckGate(() => input.resumed());
      emit = gate.emitter(emit);
      runCtx = { ...ctx, file: gate.wrap(ctx.file) };
    }
    await mode.run(runCtx, input.workload(), emit, async (name) => {
      if (pauseAt.has(name)) await input.resumed();
    });
  } else if (verb === 'recover') {
    await mode.recover(ctx);
    if (flags.thenDump) for (const entry of await mode.dump(ctx)) write(formatDumpEntry(entry));
  } else {
    for (const entry of await mode.dump(ctx)) write(formatDumpEntry(entry));
  }
}
