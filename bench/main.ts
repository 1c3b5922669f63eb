// npm run bench [-- --no-vm] [-- --quick] [-- --only jobs|explore|boot|trials|group|sim]: measured numbers, printed as
// tables and written as JSON to bench/results/latest.json (--only X: bench/results/X.json).
// Performance is measured here, never asserted in tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchEngine, type EngineBenchRow } from './engines.ts';
import { benchHarness, overheadPlan, trialOverhead } from './harness.ts';
import { benchSim } from './sim.ts';
import { benchStoreScreen } from './store-screen.ts';
import { benchMmap } from './mmap.ts';
import { benchPreadAsync } from './pread-async.ts';
import { benchCliStart } from './cli-start.ts';
import { benchRecordLayouts } from './slotted.ts';
import { plotSvg, type Panel } from './plot.ts';
import { benchJobs, type JobsBenchRow } from './jobs.ts';
import { defaultJobs } from '../src/harness/target/slots.ts';
import { startQemuTarget } from '../src/harness/target/qemu.ts';
import { installGuestEngine } from '../src/harness/trial/guest-engine.ts';
import { benchExploration } from './explore.ts';
import { benchGroupCommit } from './group.ts';
import { benchBoot } from './boot.ts';

const argv = process.argv.slice(2);
const args = new Set(argv);
const quick = args.has('--quick');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const dir = join('.cache', 'bench');
const ops = quick ? 100 : 400;

/** `--only name`: its results, with the machine's cores and the date, as bench/results/<name>.json. */
function writeOnly(name: string, results: Record<string, unknown>): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    `bench/results/${name}.json`,
    JSON.stringify({ cpus: cpus().length, date: new Date().toISOString(), ...results }, null, 2) +
      '\n',
  );
  console.log(`wrote bench/results/${name}.json`);
}

/** Trials at once on the embedded guest: one guest, two, and this host's default. */
async function jobsSection(): Promise<JobsBenchRow[]> {
  const rows = await benchJobs(quick ? 1 : 3, [...new Set([2, defaultJobs('qemu')])]);
  console.log(
    '\n`powercut run --jobs N` on the embedded guest (TCG), the same trials (ext4/xfs × plain/fsync) and seed each time:',
  );
  console.table(rows);
  return rows;
}

if (only === 'jobs') {
  writeOnly('jobs', { jobs: await jobsSection() });
  process.exit(0);
}

if (only === 'boot') {
  const rows = await benchBoot(quick ? 1 : 3);
  console.log('\nThe embedded guest (TCG) booted, and restored from its saved ready state:');
  console.table(rows);
  writeOnly('boot', { rows });
  process.exit(0);
}

if (only === 'trials') {
  // The harness's overhead alone: trials on the embedded guest beside the same cycle in shell.
  const target = await startQemuTarget();
  try {
    await installGuestEngine(target);
    const row = await trialOverhead(target, overheadPlan(), quick ? 2 : 4);
    const { phaseSeconds, stepByStep, ...rest } = row;
    console.log(
      '\nTrials on the embedded guest (TCG), beside the same dm-flakey cycle as one shell script:',
    );
    const { phaseSeconds: stepPhases, ...steps } = stepByStep;
    console.table([
      { via: 'trial agent', ...rest },
      { via: 'step by step', trials: rest.trials, ...steps },
    ]);
    console.table([
      { via: 'trial agent', ...phaseSeconds },
      { via: 'step by step', ...stepPhases },
    ]);
    writeOnly('trials', row);
  } finally {
    await target.teardown();
  }
  process.exit(0);
}

if (only === 'explore') {
  const target = await startQemuTarget();
  try {
    await installGuestEngine(target);
    const rows = await benchExploration(target);
    console.log(
      '\nlog-writes exploration (ext4, reorder:1), the same states each way (embedded guest, TCG):',
    );
    console.table(rows);
    writeOnly('explore', { rows });
  } finally {
    await target.teardown();
  }
  process.exit(0);
}

const engineRows: EngineBenchRow[] = [];
for (const direct of [false, true]) {
  engineRows.push(
    await benchEngine(dir, 'plain', { direct, writers: 1, batchWindowUs: 0, batchMaxOps: 1, ops }),
  );
  engineRows.push(
    await benchEngine(dir, 'fsync', { direct, writers: 1, batchWindowUs: 0, batchMaxOps: 1, ops }),
  );
  engineRows.push(
    await benchEngine(dir, 'cow', { direct, writers: 1, batchWindowUs: 0, batchMaxOps: 1, ops }),
  );
}
/** The simulated tier, both paths per engine (bench/sim.ts). */
async function simSection() {
  const rows = await benchSim(quick ? 0.5 : 2);
  console.log(
    '\nSimulated tier: distinct crash states (image and history) recovered, dumped and checked per second; repeated draws apart:',
  );
  console.table(rows);
  return rows;
}

if (only === 'sim') {
  writeOnly('sim', { sim: await simSection() });
  process.exit(0);
}

const groupOps = quick ? 1000 : 4000;
if (only === 'group') {
  const { groupRows, referenceRows } = await benchGroupCommit(dir, groupOps, quick ? 1 : 5);
  writeOnly('group', { groupCommit: groupRows, groupCommitReferences: referenceRows });
  process.exit(0);
}

console.log(`\nEngines on a real file (${ops} writes of 4 KiB pages, this machine's disk):`);
console.table(engineRows);
const {
  rows: groupEngineRows,
  groupRows,
  referenceRows,
} = await benchGroupCommit(dir, groupOps, quick ? 1 : 5);
engineRows.push(...groupEngineRows);

const layoutRows = await benchRecordLayouts(dir, quick ? 200 : 800);
console.log(
  '\nSeed item 2: slotted pages vs fixed-size records (256 keys, values of 9-120 bytes, host disk):',
);
console.table(layoutRows);

const mmapRows = benchMmap(dir, quick ? 64 : 512);
console.log('\nSeed item 8: pread vs mmap (this machine, a file on the host disk):');
console.table(mmapRows);

const qdRows = await benchPreadAsync(dir, quick ? 64 : 256, quick ? 4000 : 20000);
console.log('\nSeed item 1: preadAsync, random 4 KiB O_DIRECT reads, thread pool vs io_uring:');
console.table(qdRows);

const cliRows = await benchCliStart(quick ? 5 : 9);
console.log('\nCLI start (the compiled CLI, wall clock; goal: 300 ms):');
console.table(cliRows);

const simRows = await simSection();

// screen: store's host side alone, on recordings made in this process (no kernel): distinct
// crash states screened and judged per second, a planted bug beside them as the sanity row.
const storeScreenRows = [
  await benchStoreScreen('fsync', quick ? 60 : 240, 'tear:3'),
  await benchStoreScreen('group-commit', quick ? 100 : 400, 'reorder:2'),
  ...(quick ? [] : [await benchStoreScreen('fsync', 1000, 'tear:3')]),
  await benchStoreScreen('fsync', quick ? 60 : 240, 'tear:3', 'ack-before-sync'),
];
console.log(
  '\nscreen: store on the host alone (recorded in this process; 16 pages), distinct states screened and judged per second:',
);
console.table(storeScreenRows);

const harness = args.has('--no-vm') ? null : await benchHarness(quick ? 2 : 4, quick ? 40 : 100);
if (harness) {
  console.log('\nReal-kernel tier (embedded QEMU guest, TCG):');
  const { phaseSeconds, guestEngines, exploration, tracer, vagrant, stepByStep, ...rest } = harness;
  const { phaseSeconds: stepPhases, ...steps } = stepByStep;
  console.table([
    { via: 'trial agent', ...rest },
    { via: 'step by step', trials: rest.trials, ...steps },
  ]);
  console.log('mean seconds per trial phase:');
  console.table([
    { via: 'trial agent', ...phaseSeconds },
    { via: 'step by step', ...stepPhases },
  ]);
  console.log('\nEngines inside the guest (ext4 on the powercut dm device, TCG):');
  console.table(guestEngines);
  console.log(
    '\nlog-writes exploration (ext4, reorder:1), the same states each way: all on the kernel; screened on the host (image + e2fsck, or the store read from the log), the kernel confirming failing states and a sample:',
  );
  console.table(exploration);
  console.log(
    '\nThe tracer every engine runs under (C engine, pwrite + fdatasync per write, TCG): alone, traced, with an ack mark per ack, with a stop per ack handled over ssh:',
  );
  console.table([tracer]);
  if (vagrant) {
    const { phaseSeconds: vagrantPhases, execRoundTripMs, ...v } = vagrant;
    console.log(
      '\nThe same trials on the Vagrant VM (libvirt, same run), beside the embedded guest:',
    );
    console.table([{ ...v, embeddedTrialSeconds: rest.meanTrialSeconds }]);
    console.table([vagrantPhases]);
    console.log(
      `exec round trip: vagrant ${execRoundTripMs.vagrant} ms, embedded ${execRoundTripMs.embedded} ms`,
    );
  } else {
    console.log(
      '\n(no Vagrant VM running: `vagrant up` to measure the Vagrant target beside the embedded guest)',
    );
  }
}

const jobsRows = args.has('--no-vm') ? null : await jobsSection();

const bootRows = args.has('--no-vm') ? null : await benchBoot(quick ? 1 : 2);
if (bootRows) {
  console.log('\nThe embedded guest (TCG) booted, and restored from its saved ready state:');
  console.table(bootRows);
}

const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString(),
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/latest.json',
  JSON.stringify(
    {
      machine,
      engines: engineRows,
      groupCommit: groupRows,
      groupCommitReferences: referenceRows,
      recordLayouts: layoutRows,
      mmap: mmapRows,
      preadAsync: qdRows,
      sim: simRows,
      storeScreen: storeScreenRows,
      cliStart: cliRows,
      harness,
      jobs: jobsRows,
      boot: bootRows,
    },
    null,
    2,
  ) + '\n',
);
const panels: Panel[] = [
  {
    title: 'Group commit vs fsync-per-write (host file)',
    xLabel: 'concurrent writers',
    yLabel: 'acknowledged writes/s',
    logX: true,
    series: [
      ...[...new Set(groupRows.map((r) => r.windowUs))].map((windowUs) => ({
        name: `group, window ${windowUs} µs`,
        points: groupRows
          .filter((r) => r.windowUs === windowUs)
          .map((r) => [r.writers, r.groupOpsPerSec] as [number, number]),
      })),
      {
        name: 'fsync per write',
        points: groupRows
          .filter((r) => r.windowUs === groupRows[0]!.windowUs)
          .map((r) => [r.writers, r.fsyncPerWriteOpsPerSec] as [number, number]),
      },
    ],
  },
  {
    title: 'preadAsync random 4 KiB O_DIRECT reads',
    xLabel: 'queue depth',
    yLabel: 'IOPS',
    logX: true,
    series: [...new Set(qdRows.map((r) => r.backend))].map((backend) => ({
      name: backend,
      points: qdRows
        .filter((r) => r.backend === backend)
        .map((r) => [r.queueDepth, r.iops] as [number, number]),
    })),
  },
];
writeFileSync(
  'bench/results/latest.svg',
  plotSvg(panels, `powercut bench, ${machine.cpus} CPUs (${machine.cpu}), ${machine.date}`),
);
console.log('\nwrote bench/results/latest.json and bench/results/latest.svg');
