import { Command, InvalidArgumentError } from 'commander';
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

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

function withCommonOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--store <path>', 'the store file or block device')
    .option('--page-size <bytes>', 'page size', int, defaultEngineOptions.pageSize)
    .option('--pages <n>', 'logical pages (default: derived from the store size)', int)
    .option('--direct', 'open with O_DIRECT (aligned buffers)')
    .option('--writers <n>', 'concurrent writers (group-commit)', int, defaultEngineOptions.writers)
    .option(
      '--batch-window-us <us>',
      'group-commit batch window',
      int,
      defaultEngineOptions.batchWindowUs,
    )
    .option(
      '--batch-max <n>',
      'group-commit batch size limit',
      int,
      defaultEngineOptions.batchMaxOps,
    )
    .option('--bug <name>', 'a planted bug (tests of the checkers)')
    .option('--protection <how>', 'slotted: none (in place) or doublewrite')
    .option('--then-dump', 'recover: print the dump after a successful recovery (one process)')
    .option(
      '--pause-at <mark>',
      'pause at this mark until {"op":"resume"} (repeatable; `ack`: after every acknowledgement)',
      (v, acc: string[]) => [...acc, v],
      [],
    );
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
  const [modeName = '', ...rest] = argv;
  const program = new Command(`powercut-engine ${modeName || '<mode>'}`)
    .description(
      'built-in engines (plain, fsync, group-commit, cow, slotted) speaking the powercut engine protocol v1',
    )
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.out(t.replace(/\n$/, '')), writeErr: (t) => io.err(t) });
  for (const verb of ['run', 'recover', 'dump'] as const) {
    withCommonOptions(program.command(verb)).action(async (flags: Flags) => {
      const ctx = await context(modeName, flags);
      const mode = getEngineMode(modeName);
      // Closed however the verb ends: a long-lived server (serve.ts) must not keep the store
      // open, or the filesystem under it would not unmount.
      try {
        await runVerb(verb, mode, ctx, flags, write);
      } finally {
        await ctx.file.close();
      }
    });
  }
  try {
    getEngineMode(modeName);
    await program.parseAsync(rest, { from: 'user' });
    return 0;
  } catch (error) {
    // recover's contract: non-zero with one line on stderr saying why.
    const commanderExit = (error as { code?: string }).code?.startsWith('commander.');
    if (commanderExit) return (error as { exitCode?: number }).exitCode ?? 2;
    io.err(`${(error as Error).message.split('\n')[0]}\n`);
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
