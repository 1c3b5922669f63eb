import test from 'ava';
import { virtualClock } from '../../src/engine/clock.ts';
import { internalMarks } from '../../src/engine/engine.ts';
import { engineModes } from '../../src/engine/registry.ts';
import type { WorkloadOp } from '../../src/model/workload.ts';
import { SimDevice } from '../../src/sim/sim-device.ts';
import { options } from './sim-helpers.ts';

// The scenario loader rejects `arm: { atMark }` for marks outside internalMarks; this pins the
// table to what the engines really emit (`ack` comes from the CLI's --pause-at ack gate).
for (const [name, mode] of Object.entries(engineModes)) {
  test(`${name} emits exactly the internal marks the scenario loader accepts for it`, async (t) => {
    const opts = options({ writers: 2, pages: 8 });
    const device = new SimDevice({ size: mode.storeSize(opts) });
    const ops: WorkloadOp[] = [];
    for (let i = 1; i <= 8; i++) {
      ops.push({ op: 'write', id: ops.length + 1, page: i % 8, value: `w${i}` });
      if (mode.transactional && i % 4 === 0) ops.push({ op: 'commit', id: ops.length + 1 });
    }
    async function* input(): AsyncGenerator<WorkloadOp> {
      yield* ops;
    }
    const seen = new Set<string>();
    await mode.run({ file: device.file(), clock: virtualClock(), options: opts }, input(), (e) => {
      if (e.type === 'mark' && e.id === undefined) seen.add(e.name);
    });
    const declared = internalMarks[mode.name].filter((m) => m !== 'ack');
    t.deepEqual([...seen].sort(), [...declared].sort());
  });
}
