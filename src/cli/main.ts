import { Command, Option } from 'commander';
import { installSignalCleanup } from '../harness/cleanup.ts';
import { findScenarioFiles, InputError } from '../scenario/find.ts';
import { ScenarioError } from '../scenario/scenario-error.ts';
import {
  checkUserEngines,
  describePlan,
  loadAll,
  parsePositive,
  parseRunId,
  parseSeed,
  shardOf,
  weightsFrom,
} from './arguments.ts';

// Each command loads what it needs when it runs (the scenario language, ssh, the harness):
// `powercut --help` loads none of it.

const targetOption = new Option('-t, --target <kind>', 'where trials run').choices([
  'auto',
  'qemu',
  'vagrant',
  'ssh',
  'local',
]);
const seedOption = new Option('-s, --seed <n>', 'base seed (printed by every run)').argParser(
  parseSeed,
);
const shardOption = new Option(
  '--shard <i/n|env>',
  "only shard i of n (1-based; `env` reads the CI system's parallel-job variables)",
);
const log = (line: string): void => console.log(line);

/**
 * Exit codes a scheduler can act on: 0 as expected, 1 a verdict differs from its expectation
 * (a finding: do not retry), 2 bad input (a scenario, an option, a path), 3 a harness or
 * infrastructure error (worth a retry).
 */
export const exitCodes = { ok: 0, finding: 1, badInput: 2, harness: 3 } as const;

const program = new Command('powercut')
  .description(
    'crash-consistency and fault-injection trials for storage engines on a real kernel (dm-flakey)',
  )
  .showHelpAfterError()
  // A bad option or argument is bad input (2), like a bad scenario; help and version are not.
  .exitOverride((error) => {
    if (error.exitCode === 0) process.exit(0);
    process.exit(exitCodes.badInput);
  });

program
  .command('state-image')
  .description(
    'rebuild one crash state of a log-writes trial as a device image (from its log-writes.img.gz)',
  )
  .argument('<log>', 'the recorded log (log-writes.img.gz in the trial directory)')
  .requiredOption('--state <id>', 'the state id printed for a failing state (e.g. 57~53)')
  .requiredOption('--size <bytes>', 'the device size in bytes', (v) => parsePositive(v, '--size'))
  .requiredOption('--out <file>', 'the image to write')
  .action(async (logPath: string, opts: { state: string; size: number; out: string }) => {
    const { writeStateImage } = await import('./state-image-command.ts');
    const r = await writeStateImage({
      log: logPath,
      state: opts.state,
      sizeBytes: opts.size,
      out: opts.out,
    });
    log(
      `${opts.out}: state ${opts.state}, ${r.applied} log entries replayed (${r.bytes} bytes); mount it with: mount -o loop ${opts.out} /mnt`,
    );
  });

program
  .command('run')
  .description('run scenario files (or every *.yaml in the given directories)')
  .argument('[paths...]', 'scenario files or directories', ['scenarios'])
  .addOption(targetOption)
  .addOption(seedOption)
  .option('--store <dir>', 'where results are written', 'store')
  .option(
    '--only <text>',
    'only trials whose <scenario>/<trial id> contains this text (repeatable: any of them)',
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .option(
    '--skip <text>',
    'not trials whose <scenario>/<trial id> contains this text (repeatable)',
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .option(
    '-j, --jobs <n>',
    'trials at once: embedded guests booted in parallel, or connections to an ssh/vagrant/local target (default: qemu one per core as memory allows, else 1)',
    (v) => parsePositive(v, '--jobs'),
  )
  .addOption(shardOption)
  .option(
    '--shard-weights <results.json>',
    "balance the shards by an earlier run's measured trial durations (a results.json)",
  )
  .option(
    '--run-id <name>',
    "this run's folder name in the store (default: its start time; give every shard the same one)",
    parseRunId,
  )
  .option(
    '--agent',
    "run each dm-flakey trial inside the target, in powercut's trial agent: one request per trial instead of a round trip per step (for a target far away on the network; in the embedded one-CPU guest it measured no faster)",
  )
  .option('--no-progress', 'plain lines instead of live progress')
  .action(
    async (
      paths: string[],
      opts: {
        agent?: boolean;
        target?: 'auto';
        seed?: number;
        store: string;
        only: string[];
        skip: string[];
        jobs?: number;
        shard?: string;
        shardWeights?: string;
        runId?: string;
        progress?: boolean;
      },
    ) => {
      const scenarios = await loadAll(paths);
      const { runScenarios } = await import('./run-command.ts');
      const shard = opts.shard ? await shardOf(opts.shard) : undefined;
      const outcome = await runScenarios(scenarios, {
        ...(opts.target ? { target: opts.target } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(shard ? { shard } : {}),
        ...(opts.shardWeights ? { shardWeights: await weightsFrom(opts.shardWeights) } : {}),
        ...(opts.runId ? { runId: opts.runId } : {}),
        ...(opts.jobs ? { jobs: opts.jobs } : {}),
        ...(opts.agent ? { via: 'agent' as const } : {}),
        only: opts.only,
        skip: opts.skip,
        storeRoot: opts.store,
        log,
        // listr2 on a terminal; plain lines otherwise (CI logs, pipes).
        progress: opts.progress !== false && !!process.stdout.isTTY && !process.env.CI,
      });
      process.exitCode =
        outcome.unexpected > 0
          ? exitCodes.finding
          : outcome.harnessErrors > 0
            ? exitCodes.harness
            : exitCodes.ok;
    },
  );

program
  .command('validate')
  .description(
    "check scenario files without running a trial (a user engine's build is run and its upload checked)",
  )
  .argument('[paths...]', 'scenario files or directories', ['scenarios'])
  .action(async (paths: string[]) => {
    const { loadScenarioFile } = await import('../scenario/load.ts');
    const { expandScenario } = await import('../scenario/expand.ts');
    let bad = 0;
    for (const file of await findScenarioFiles(paths)) {
      try {
        const loaded = await loadScenarioFile(file);
        const plans = expandScenario(loaded, { baseSeed: 0 });
        await checkUserEngines(plans);
        log(`ok ${file} (${plans.length} trials)`);
      } catch (error) {
        bad++;
        console.error(
          error instanceof ScenarioError ? error.message : `${file}: ${(error as Error).message}`,
        );
      }
    }
    // Bad input: exit 2, like every command.
    process.exitCode = bad > 0 ? exitCodes.badInput : exitCodes.ok;
  });

program
  .command('list')
  .description('list the trials scenario files expand to')
  .argument('[paths...]', 'scenario files or directories', ['scenarios'])
  .addOption(shardOption)
  .option('--shard-weights <results.json>', 'as for run: deal the shards by measured durations')
  .action(async (paths: string[], opts: { shard?: string; shardWeights?: string }) => {
    const { expandScenario } = await import('../scenario/expand.ts');
    const { dealTrials, trialKey } = await import('./shard.ts');
    const plans = (await loadAll(paths)).flatMap((loaded) =>
      expandScenario(loaded, { baseSeed: 0 }),
    );
    let mine: Set<string> | undefined;
    if (opts.shard) {
      const shard = await shardOf(opts.shard);
      const weights = opts.shardWeights ? await weightsFrom(opts.shardWeights) : undefined;
      mine = new Set(dealTrials(plans.map(trialKey), shard.total, weights)[shard.index - 1]);
    }
    for (const plan of plans)
      if (!mine || mine.has(trialKey(plan))) log(`${trialKey(plan)}  ${describePlan(plan)}`);
  });

program
  .command('merge')
  .description(
    'merge the stores of a sharded run (one --store per shard) into one store with one report',
  )
  .argument('<stores...>', "each shard's --store directory")
  .requiredOption('--out <dir>', 'the merged store')
  .action(async (stores: string[], opts: { out: string }) => {
    const { mergeShards } = await import('./merge-command.ts');
    const merged = await mergeShards(stores, opts.out, log);
    process.exitCode =
      merged.unexpected > 0
        ? exitCodes.finding
        : merged.harnessErrors > 0
          ? exitCodes.harness
          : exitCodes.ok;
  });

program
  .command('replay')
  .description(
    're-run a stored trial with the same seed, workload and arm point, and compare verdicts',
  )
  .argument('<trial-dir>', 'a trial folder: store/<scenario>/<time>/<trial>')
  .addOption(targetOption)
  .option('--store <dir>', 'where results are written', 'store')
  .action(async (dir: string, opts: { target?: 'auto'; store: string }) => {
    const { readStoredPlan } = await import('./stored-trial.ts');
    const { replayTrial } = await import('./replay-command.ts');
    const plan = await readStoredPlan(dir);
    const same = await replayTrial(dir, plan, {
      ...(opts.target ? { target: opts.target } : {}),
      storeRoot: opts.store,
      log,
    });
    process.exitCode = same ? 0 : 1;
  });

program
  .command('shrink')
  .description(
    're-run a failing trial on the real target, shrinking its workload to a minimal failing one',
  )
  .argument('<trial-dir>', 'a trial folder: store/<scenario>/<time>/<trial>')
  .addOption(targetOption)
  .option('--max-trials <n>', 'real trials to spend at most', (v) => parseSeed(v), 40)
  .action(async (dir: string, opts: { target?: 'auto'; maxTrials: number }) => {
    const { readStoredPlan } = await import('./stored-trial.ts');
    const { shrinkTrial } = await import('./shrink-command.ts');
    const plan = await readStoredPlan(dir);
    const found = await shrinkTrial(plan, {
      ...(opts.target ? { target: opts.target } : {}),
      maxTrials: opts.maxTrials,
      log,
    });
    if (!found) {
      log('the trial did not fail again: nothing to shrink (is the failure timing-dependent?)');
      process.exitCode = 1;
      return;
    }
    log(`minimal failing workload (${found.ops.length} ops):`);
    for (const op of found.ops) log(`  ${JSON.stringify(op)}`);
    for (const a of found.result.verdict.anomalies) log(`  ${a.kind}: ${a.message}`);
  });

program
  .command('clean')
  .description(
    'remove stale powercut-* tables, loop devices and mounts from the target (nothing else)',
  )
  .addOption(targetOption)
  .action(async (opts: { target?: 'auto' }) => {
    const { startTarget } = await import('../harness/target/select.ts');
    const { describeSweep, sweepStale } = await import('../harness/device/sweep.ts');
    const target = await startTarget(opts.target ?? 'auto', { log });
    try {
      const swept = await sweepStale(target);
      for (const line of describeSweep(swept)) log(line);
      if (swept.removed.length === 0 && swept.failed.length === 0) log('nothing stale');
      if (swept.failed.length > 0) process.exitCode = exitCodes.harness;
    } finally {
      await target.teardown();
    }
  });

installSignalCleanup();
// `powercut list | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
try {
  await program.parseAsync();
} catch (error) {
  // One line, no stack, for errors in the user's input; the stack only for our own bugs.
  if (error instanceof ScenarioError || error instanceof InputError) {
    console.error(error.message);
    process.exitCode = exitCodes.badInput;
  } else if (error instanceof Error && error.name === 'HarnessError') {
    console.error(`powercut: ${error.message}`);
    process.exitCode = exitCodes.harness;
  } else {
    console.error(error);
    process.exitCode = exitCodes.harness;
  }
}
