import { installGuestEngine } from '../src/harness/trial/guest-engine.ts';
import { runTrial, trialPhases, type TrialPhase } from '../src/harness/trial/run-trial.ts';
import { startQemuTarget } from '../src/harness/target/qemu.ts';
import { EngineServer } from '../src/harness/trial/engine-server.ts';
import { TrialAgent } from '../src/harness/agent/trial-agent.ts';
import type { Target } from '../src/harness/target/target.ts';
import { startVagrantTarget, vagrantRunning } from '../src/harness/target/vagrant.ts';
import type { TrialPlan } from '../src/model/trial-plan.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
import { benchGuestEngines, type GuestEngineRow } from './guest-engines.ts';
import { benchTracer, type TracerBench } from './tracer.ts';
import { benchExploration, type ExploreRow } from './explore.ts';
import { ownership } from '../src/harness/device/ownership.ts';
import { resourceNames } from '../src/harness/device/names.ts';
import { sweepStale } from '../src/harness/device/sweep.ts';
import { parseScenario } from '../src/scenario/load.ts';
import { expandScenario } from '../src/scenario/expand.ts';
import { engineCommand, storeSize } from '../src/harness/trial/engine-command.ts';
import { generateWorkload } from '../src/harness/trial/workload-gen.ts';
import { dmToolPath } from '../src/harness/device/dm-tool.ts';
import { medianAndRange } from './stats.ts';

export type HarnessBench = {
  bootSeconds: number;
  trials: number;
  trialsPerMinute: number;
  meanTrialSeconds: number;
  phaseSeconds: Record<TrialPhase, number>;
  /** Execs, spawns, engine-server and trial-agent requests a trial waits for. */
  roundTripsPerTrial: number;
  /** The shell cycle's mean, timed once after each pair of trials (the machine's load drifts). */
  shellCycleSeconds: number;
  /** Its fastest and slowest run. */
  shellCycleRangeSeconds: [number, number];
  overheadRatio: number;
  /**
   * The same cycle by hand with the trial's own engine and ops in place of dd, and powercut-dm
   * in place of dmsetup (the engine fed from a fifo, the fault armed once it acknowledged the
   * 20th write): the same work as fast as a script does it, so the ratio is what the harness
   * adds. Timed after each pair, like the shell cycle.
   */
  engineCycleSeconds: number;
  engineCycleRangeSeconds: [number, number];
  overheadToEngineCycle: number;
  /**
   * Each trial over the cycles timed right after it, one ratio per pair, as "median (range)":
   * this machine's load moves both within minutes, and one slow trial moves a mean.
   */
  pairRatioToDdCycle: string;
  pairRatioToEngineCycle: string;
  /** The same trials run step by step from the host (no trial agent), in the same run. */
  stepByStep: StepByStep;
  /** Engines inside the guest on the dm device. */
  guestEngines: GuestEngineRow[];
  /** One log-writes recording (ext4 cow, reorder:1): on the kernel, and screened on the host. */
  exploration: ExploreRow[];
  tracer: TracerBench;
  /** The same trials on the project's Vagrant VM, when one is running (`vagrant up`). */
  vagrant?: VagrantBench;
};

export type StepByStep = {
  meanTrialSeconds: number;
  phaseSeconds: Record<TrialPhase, number>;
  roundTripsPerTrial: number;
  overheadRatio: number;
  overheadToEngineCycle: number;
  pairRatioToDdCycle: string;
  pairRatioToEngineCycle: string;
};

export type VagrantBench = {
  trials: number;
  meanTrialSeconds: number;
  /** Vagrant trial time over the embedded guest's, in this run. */
  ratioToEmbedded: number;
  phaseSeconds: Record<TrialPhase, number>;
  /** One `true` over ssh, each target: the per-command cost that differs most. */
  execRoundTripMs: { vagrant: number; embedded: number };
};

/**
 * The real-kernel tier: guest boot, trials per minute (fsync, ext4, 40 writes, drop window),
 * the time split by phase, and the same dm-flakey cycle as one plain shell script in the same
 * guest, for the harness's overhead ratio.
 */
export async function benchHarness(trials = 4, guestWrites = 100): Promise<HarnessBench> {
  const bootStart = Date.now();
  const target = await startQemuTarget();
  const bootSeconds = (Date.now() - bootStart) / 1000;
  try {
    await installGuestEngine(target);
    const plan = overheadPlan();
    const overhead = await trialOverhead(target, plan, trials);
    const { meanTrialSeconds } = overhead;
    const embeddedExecMs = await execRoundTrip(target);
    const guestEngines = await benchGuestEngines(target, guestWrites);
    await sweepStale(target);
    const exploration = await benchExploration(target);
    const tracer = await benchTracer(target, guestWrites * 2);
    const vagrant = (await vagrantRunning(projectRoot))
      ? await benchVagrant(plan, trials, meanTrialSeconds, embeddedExecMs)
      : undefined;
    return {
      bootSeconds,
      ...overhead,
      trialsPerMinute: Number((60 / meanTrialSeconds).toFixed(1)),
      guestEngines,
      exploration,
      tracer,
      ...(vagrant ? { vagrant } : {}),
    };
  } finally {
    await target.teardown();
  }
}

export const overheadPlan = (): TrialPlan =>
  expandScenario(
    parseScenario(
      'bench.yaml',
      'engine: { mode: fsync }\nworkload: { ops: 40, pages: 16 }\nfault: { kind: drop_writes, arm: { afterOp: 20 } }\n',
    ),
    { baseSeed: 1 },
  )[0]!;

/**
 * Trials timed, beside the same dm-flakey cycle as one shell script in the same guest: through
 * the trial agent (the default), and step by step from the host, alternating by trial, with the
 * shell cycle timed after each pair (one sample of it had swung the ratio by half).
 */
export async function trialOverhead(target: Target, plan: TrialPlan, trials: number) {
  const [timed, steps, shell, engineShell, perPair] = await timeTrialsBothWays(
    target,
    plan,
    trials,
  );
  // "median (min-max)" of each trial over the cycles timed right after it.
  const pairRatios = (seconds: number[]) => ({
    pairRatioToDdCycle: medianAndRange(seconds.map((s, i) => s / shell[i]!)),
    pairRatioToEngineCycle: medianAndRange(seconds.map((s, i) => s / engineShell[i]!)),
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const range = (xs: number[]) =>
    [Number(Math.min(...xs).toFixed(2)), Number(Math.max(...xs).toFixed(2))] as [number, number];
  const shellCycleSeconds = mean(shell);
  const engineCycleSeconds = mean(engineShell);
  const ratio = (seconds: number) => Number((seconds / shellCycleSeconds).toFixed(2));
  const toEngineCycle = (seconds: number) => Number((seconds / engineCycleSeconds).toFixed(2));
  return {
    trials,
    meanTrialSeconds: Number(timed.meanTrialSeconds.toFixed(2)),
    phaseSeconds: timed.phaseSeconds,
    roundTripsPerTrial: timed.roundTripsPerTrial,
    shellCycleSeconds: Number(shellCycleSeconds.toFixed(2)),
    shellCycleRangeSeconds: range(shell),
    overheadRatio: ratio(timed.meanTrialSeconds),
    engineCycleSeconds: Number(engineCycleSeconds.toFixed(2)),
    engineCycleRangeSeconds: range(engineShell),
    overheadToEngineCycle: toEngineCycle(timed.meanTrialSeconds),
    ...pairRatios(perPair.agent),
    stepByStep: {
      meanTrialSeconds: Number(steps.meanTrialSeconds.toFixed(2)),
      phaseSeconds: steps.phaseSeconds,
      roundTripsPerTrial: steps.roundTripsPerTrial,
      overheadRatio: ratio(steps.meanTrialSeconds),
      overheadToEngineCycle: toEngineCycle(steps.meanTrialSeconds),
      ...pairRatios(perPair.steps),
    },
  };
}

type Timed = {
  meanTrialSeconds: number;
  phaseSeconds: Record<TrialPhase, number>;
  roundTripsPerTrial: number;
};

/**
 * n trials through the agent and n step by step, alternating, and both shell cycles after each
 * pair (this machine's load drifts): the two means, the shell cycles' n times and each trial's
 * own time (seconds).
 */
async function timeTrialsBothWays(
  target: Target,
  plan: TrialPlan,
  n: number,
): Promise<[Timed, Timed, number[], number[], { agent: number[]; steps: number[] }]> {
  // Unmeasured: the first of each starts the agent or the engine server.
  await runTrial(target, plan, { via: 'agent' });
  await runTrial(target, plan, { via: 'steps' });
  const agent: Timed[] = [];
  const steps: Timed[] = [];
  const shell: number[] = [];
  const engineShell: number[] = [];
  await timeShellCycle(target, plan, 'engine'); // unmeasured: the first reads node from disk
  for (let i = 0; i < n; i++) {
    agent.push(await timeTrials(target, plan, 1, 'agent', false));
    steps.push(await timeTrials(target, plan, 1, 'steps', false));
    shell.push(await timeShellCycle(target, plan, 'dd'));
    engineShell.push(await timeShellCycle(target, plan, 'engine'));
  }
  const seconds = (runs: Timed[]) => runs.map((t) => t.meanTrialSeconds);
  return [
    meanOf(agent),
    meanOf(steps),
    shell,
    engineShell,
    { agent: seconds(agent), steps: seconds(steps) },
  ];
}

/**
 * The dm-flakey cycle as one shell script in the target (seconds), its leftovers swept: with
 * dd's writes, or with the plan's engine and ops.
 */
async function timeShellCycle(
  target: Target,
  plan: TrialPlan,
  writer: 'dd' | 'engine',
): Promise<number> {
  const start = Date.now();
  const own = resourceNames((await ownership(target)).newRunId());
  const script =
    writer === 'dd'
      ? shellCycle(own.backingDir, own.table)
      : engineShellCycle(own.backingDir, own.table, plan);
  await target.exec(script, { timeoutMs: 120_000 });
  const seconds = (Date.now() - start) / 1000;
  await sweepStale(target);
  return seconds;
}

function meanOf(runs: Timed[]): Timed {
  const mean = (f: (t: Timed) => number) => runs.reduce((sum, t) => sum + f(t), 0) / runs.length;
  const phaseSeconds = Object.fromEntries(
    trialPhases.map((p) => [p, Number(mean((t) => t.phaseSeconds[p]).toFixed(2))]),
  ) as Record<TrialPhase, number>;
  return {
    meanTrialSeconds: mean((t) => t.meanTrialSeconds),
    phaseSeconds,
    roundTripsPerTrial: mean((t) => t.roundTripsPerTrial),
  };
}

/**
 * Runs `plan` n times (a sweep before each, a first trial unmeasured: it starts the target's
 * engine server); mean seconds per trial and per phase, and the round trips to the target per
 * trial (execs, spawns and engine-server requests, counted on the target).
 */
async function timeTrials(
  target: Target,
  plan: TrialPlan,
  n: number,
  via?: 'agent' | 'steps',
  warmUp = true,
): Promise<Timed> {
  const phaseSeconds = Object.fromEntries(trialPhases.map((p) => [p, 0])) as Record<
    TrialPhase,
    number
  >;
  if (warmUp) await runTrial(target, plan, via ? { via } : {});
  let elapsed = 0;
  let roundTrips = 0;
  for (let i = 0; i < n; i++) {
    await sweepStale(target);
    const start = Date.now();
    const { result, count } = await countingRoundTrips(target, () =>
      runTrial(target, plan, via ? { via } : {}),
    );
    elapsed += Date.now() - start;
    roundTrips += count;
    for (const p of trialPhases) phaseSeconds[p] += result.phaseMs[p] / 1000 / n;
  }
  for (const p of trialPhases) phaseSeconds[p] = Number(phaseSeconds[p].toFixed(2));
  return { meanTrialSeconds: elapsed / 1000 / n, phaseSeconds, roundTripsPerTrial: roundTrips / n };
}

/**
 * Runs `body` with every exec, spawn and engine-server request to `target` counted (each one a
 * round trip the trial waits for; the lines fed to a running engine are not counted).
 */
async function countingRoundTrips<T>(
  target: Target,
  body: () => Promise<T>,
): Promise<{ result: T; count: number }> {
  let count = 0;
  const { exec, spawn } = target;
  const serverRun = EngineServer.prototype.run;
  const agentRun = TrialAgent.prototype.run;
  Object.assign(target, {
    exec: (...a: Parameters<Target['exec']>) => (count++, exec.apply(target, a)),
    spawn: (...a: Parameters<Target['spawn']>) => (count++, spawn.apply(target, a)),
  });
  EngineServer.prototype.run = function (...a) {
    count++;
    return serverRun.apply(this, a);
  };
  TrialAgent.prototype.run = function (...a) {
    count++;
    return agentRun.apply(this, a);
  };
  try {
    return { result: await body(), count };
  } finally {
    Object.assign(target, { exec, spawn });
    EngineServer.prototype.run = serverRun;
    TrialAgent.prototype.run = agentRun;
  }
}

async function execRoundTrip(target: Target): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 10; i++) await target.exec('true');
  return Math.round((Date.now() - start) / 10);
}

/** The same trials on the project's running Vagrant VM, beside the embedded guest's. */
async function benchVagrant(
  plan: TrialPlan,
  trials: number,
  embeddedTrialSeconds: number,
  embeddedExecMs: number,
): Promise<VagrantBench> {
  const target = await startVagrantTarget(projectRoot);
  try {
    await installGuestEngine(target);
    const timed = await timeTrials(target, plan, trials);
    return {
      trials,
      meanTrialSeconds: Number(timed.meanTrialSeconds.toFixed(2)),
      ratioToEmbedded: Number((timed.meanTrialSeconds / embeddedTrialSeconds).toFixed(2)),
      phaseSeconds: timed.phaseSeconds,
      execRoundTripMs: { vagrant: await execRoundTrip(target), embedded: embeddedExecMs },
    };
  } finally {
    await target.teardown();
  }
}

/**
 * The same cycle by hand with the trial's engine and ops, and with powercut's own table tool
 * (powercut-dm: create, reload without a freeze, remove; a dmsetup start costs ~100 ms under
 * TCG): the same work done as fast as a script can, so what the trial costs beyond it is the
 * harness alone. The engine reads and writes fifos; the first `afterOp` ops go in, the script
 * reads the engine's lines (a blocking read, no polling) until it acknowledged that many writes,
 * arms drop_writes, feeds the rest, drains the output and waits for the engine to exit. No
 * tracer, no history, no recovery or check.
 */
export function engineShellCycle(D: string, T: string, plan: TrialPlan): string {
  const arm = plan.fault.arm;
  const cut = arm && 'afterOp' in arm ? arm.afterOp : undefined;
  if (plan.engine.kind !== 'builtin' || plan.filesystem.type !== 'ext4' || cut === undefined)
    throw new Error('the engine cycle is written for a built-in engine on ext4, armed after an op');
  const workload = generateWorkload(plan);
  const ops = workload.map((op) => JSON.stringify(op));
  const writesBefore = workload.slice(0, cut).filter((op) => op.op === 'write').length;
  const store = `/mnt/${T}/store.db`;
  const run = engineCommand(plan.engine, 'run', store, plan.workload.pages);
  const mb = Math.ceil(storeSize(plan.engine, plan.workload.pages) / (1024 * 1024));
  return `set -e
D=${D}; T=${T}; DM=${dmToolPath}; mkdir -p $D; truncate -s ${plan.device.sizeMb}M $D/b.img
L=$(losetup --find --show $D/b.img); S=$(blockdev --getsz $L)
echo "0 $S linear $L 0" | $DM create $T
mkfs.ext4 -F -q /dev/mapper/$T; mkdir -p /mnt/$T; mount /dev/mapper/$T /mnt/$T
dd if=/dev/zero of=${store} bs=1M count=${mb} conv=fsync 2>/dev/null
cat > $D/first <<'OPS'
${ops.slice(0, cut).join('\n')}
OPS
cat > $D/rest <<'OPS'
${ops.slice(cut).join('\n')}
OPS
mkfifo $D/in $D/out
${run} < $D/in > $D/out &
exec 3> $D/in 4< $D/out
cat $D/first >&3
n=0; while [ $n -lt ${writesBefore} ] && read -r line <&4; do case $line in *'"type":"ok"'*) n=$((n+1)) ;; esac; done
echo "0 $S flakey $L 0 0 1 1 drop_writes" | $DM reload $T
cat $D/rest >&3; exec 3>&-; cat <&4 > /dev/null; exec 4<&-; wait
umount /mnt/$T
echo "0 $S linear $L 0" | $DM reload $T
echo 3 > /proc/sys/vm/drop_caches; mount /dev/mapper/$T /mnt/$T
cat ${store} > /dev/null; umount /mnt/$T
$DM remove $T; losetup -d $L; rm -rf $D; rmdir /mnt/$T`;
}

// The same cycle by hand: loop + linear table + mkfs + mount + 20 synced writes + arm drop +
// 20 more + umount + linear + drop caches + mount + read back + teardown.
const shellCycle = (D: string, T: string): string => `set -e
D=${D}; T=${T}; mkdir -p $D; truncate -s 512M $D/b.img
L=$(losetup --find --show $D/b.img); S=$(blockdev --getsz $L)
dmsetup create $T --table "0 $S linear $L 0"
mkfs.ext4 -F -q /dev/mapper/$T; mkdir -p /mnt/$T; mount /dev/mapper/$T /mnt/$T
dd if=/dev/zero of=/mnt/$T/s bs=1M count=1 conv=fsync 2>/dev/null
for i in $(seq 1 20); do dd if=/dev/urandom of=/mnt/$T/s bs=4096 count=1 seek=$i conv=notrunc,fsync 2>/dev/null; done
dmsetup suspend --nolockfs $T; dmsetup load $T --table "0 $S flakey $L 0 0 1 1 drop_writes"; dmsetup resume $T
for i in $(seq 21 40); do dd if=/dev/urandom of=/mnt/$T/s bs=4096 count=1 seek=$i conv=notrunc,fsync 2>/dev/null; done
umount /mnt/$T
dmsetup suspend $T; dmsetup load $T --table "0 $S linear $L 0"; dmsetup resume $T
echo 3 > /proc/sys/vm/drop_caches; mount /dev/mapper/$T /mnt/$T
cat /mnt/$T/s > /dev/null; umount /mnt/$T
dmsetup remove $T; losetup -d $L; rm -rf $D; rmdir /mnt/$T`;
