import type { z } from 'zod';
import { engineTraits, internalMarks } from '../engine/engine.ts';
import type { Scenario } from './scenario-shape.ts';

/**
 * What the schema's shapes cannot say: fields that only make sense for one family of faults
 * (flakey windows vs a log-writes recording), and arm points a trial could never reach.
 */
export function checkScenario(s: Scenario, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string): void =>
    ctx.addIssue({ code: 'custom', path, message });
  // Points that cannot be reached: a trial would run without its fault (or never disarm).
  const transactional =
    'mode' in s.engine ? engineTraits[s.engine.mode].transactional : s.engine.transactional;
  const writes = s.workload.ops;
  // Ops fed to the engine: the writes, plus (transactional) at least one commit per txnSize writes.
  const minOps = writes + (transactional ? Math.ceil(writes / s.workload.txnSize) : 0);
  // Acknowledged ops: every write, or (transactional) at most one commit per write.
  const ackable = writes;
  for (const key of ['arm', 'disarm'] as const) {
    const point = s.fault[key];
    if (point && 'afterOp' in point && point.afterOp > minOps)
      issue(
        ['fault', key, 'afterOp'],
        `${point.afterOp} is past the end of the workload (${minOps} ops${transactional ? `: ${writes} writes and at least ${minOps - writes} commits` : ''}): the fault would never ${key === 'arm' ? 'be armed' : 'be disarmed'} where asked; use at most ${minOps}`,
      );
    if (point && 'at' in point && point.at === 'ack' && point.occurrence > ackable)
      issue(
        ['fault', key, 'occurrence'],
        `${point.occurrence} acknowledgements cannot happen: the workload has ${ackable} ${transactional ? 'commits at most' : 'writes'}`,
      );
  }
  if (s.fault.schedule && s.fault.arm)
    issue(
      ['fault', 'schedule'],
      "schedule and arm are two ways to say when the fault is on: use one (schedule: dm-flakey's own up/down intervals; arm: a point in the workload)",
    );
  const w = s.workload;
  if (w.valueSizeMax !== undefined && w.valueSizeMax < w.valueSize)
    issue(['workload', 'valueSizeMax'], `${w.valueSizeMax} is below valueSize ${w.valueSize}`);
  if ('mode' in s.engine && (s.matrix?.mode ?? [s.engine.mode]).includes('slotted')) {
    // 16 records per page: each a 6-byte slot and its value, after a 32-byte header.
    const fits = Math.floor((s.engine.pageSize - 32) / 16) - 6;
    const biggest = w.valueSizeMax ?? w.valueSize;
    if (biggest > fits)
      issue(
        ['workload', w.valueSizeMax !== undefined ? 'valueSizeMax' : 'valueSize'],
        `${biggest} characters do not fit 16 records in a ${s.engine.pageSize}-byte slotted page: at most ${fits}`,
      );
  }
  if (
    'mode' in s.engine &&
    s.engine.protection &&
    !(s.matrix?.mode ?? [s.engine.mode]).includes('slotted')
  )
    issue(['engine', 'protection'], 'protection applies to mode slotted only');
  if (s.fault.disarm && !s.fault.arm)
    issue(['fault', 'disarm'], 'disarm without arm: nothing was armed to disarm');
  const arm = s.fault.arm;
  const disarm = s.fault.disarm;
  if (arm && disarm && 'afterOp' in arm && 'afterOp' in disarm && disarm.afterOp <= arm.afterOp)
    issue(
      ['fault', 'disarm', 'afterOp'],
      `${disarm.afterOp} is not after arm.afterOp ${arm.afterOp}: the fault would be disarmed before (or as) it is armed`,
    );
  if (!('mode' in s.engine)) {
    if (s.matrix?.mode)
      issue(
        ['matrix', 'mode'],
        'matrix.mode varies a built-in engine; a user engine varies with matrix.engine',
      );
    if (s.expectByMode)
      issue(
        ['expectByMode'],
        "expectByMode is for built-in engines; give a user engine's variants their own expect in matrix.engine",
      );
  }
  if (s.matrix?.engine && 'mode' in s.engine)
    ctx.addIssue({
      code: 'custom',
      path: ['matrix', 'engine'],
      message: 'engine variants are for a user engine; a built-in engine varies with matrix.mode',
    });
  if (s.matrix?.engine) {
    const names = s.matrix.engine.map((v) => v.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice)
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'engine'],
        message: `engine variant ${JSON.stringify(twice)} is named twice (names go into trial ids)`,
      });
  }
  const kinds = s.matrix?.fault ?? [s.fault.kind];
  const recording = kinds.includes('log-writes');
  const flakey = kinds.some((k) => k !== 'log-writes');
  for (const key of ['arm', 'disarm', 'schedule', 'corrupt'] as const) {
    if (recording && s.fault[key] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['fault', key],
        message: `log-writes records the whole run and explores its crash states: it takes no ${key}`,
      });
  }
  if (arm && 'atMark' in arm) {
    const engine = s.engine;
    const modes = 'mode' in engine ? (s.matrix?.mode ?? [engine.mode]) : [];
    const blind = modes.find((mode) => !internalMarks[mode].includes(arm.atMark));
    const message = blind
      ? `engine mode ${blind} never reaches mark ${JSON.stringify(arm.atMark)}, so the fault would never be armed (its marks: ${internalMarks[blind].join(', ')})`
      : !('mode' in engine) && !engine.supports.includes('pause-at')
        ? 'arming at a mark needs an engine that pauses there: declare `supports: [pause-at]` on the engine (docs/engine-protocol.md) or arm with afterOp'
        : undefined;
    if (message) ctx.addIssue({ code: 'custom', path: ['fault', 'arm', 'atMark'], message });
  }
  for (const key of ['arm', 'disarm'] as const) {
    const point = s.fault[key];
    if (
      point &&
      'at' in point &&
      point.when === 'before' &&
      (point.at === 'ack' || point.at === 'failed-sync')
    )
      ctx.addIssue({
        code: 'custom',
        path: ['fault', key, 'when'],
        message: `${point.at} is known only once it happened: use when: after`,
      });
  }
  if (s.fault.screen !== undefined) {
    const notExt4 = (s.matrix?.fs ?? [s.filesystem.type]).find((fs) => fs !== 'ext4');
    const message =
      s.fault.screen === 'store'
        ? storeNotInPlace(s, 'screen: store')
        : !('mode' in s.engine)
          ? 'screening on the host runs the engine in-process: only built-in engines (engine.mode)'
          : notExt4 !== undefined
            ? `screening on the host replays ext4's journal with e2fsck: ${notExt4} has no such replay outside the kernel`
            : undefined;
    if (message) issue(['fault', 'screen'], message);
  }
  if (s.fault.explore?.startsWith('misdirect:')) {
    // The excuse for what a misdirected write took needs to know which logical page a block
    // holds, and where the store's blocks lie on the device.
    const message = storeNotInPlace(s, 'misdirect:N');
    if (message) issue(['fault', 'explore'], message);
  }
  for (const key of ['explore', 'maxStates', 'screen', 'fsck'] as const) {
    if (flakey && s.fault[key] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['fault', key],
        message: `${key} applies only to fault kind log-writes`,
      });
  }
}

/**
 * Why a built-in engine's store pages may not sit at fixed device blocks in some run of `s`
 * (what `screen: store` and `misdirect:N` both need), or undefined when they do: a
 * direct-layout engine, ext4 or xfs (btrfs maps blocks itself), file data not journaled.
 */
function storeNotInPlace(s: Scenario, what: string): string | undefined {
  if (!('mode' in s.engine))
    return `${what} needs to know which page each store block holds: only built-in engines (engine.mode)`;
  const modes = s.matrix?.mode ?? [s.engine.mode];
  const notDirect = modes.find((m) => !engineTraits[m].directLayout);
  if (notDirect !== undefined)
    return `${what} needs a store whose pages stay in place: plain, fsync or group-commit, not ${notDirect}`;
  if (/(^|,)\s*data=journal\s*(,|$)/.test(s.filesystem.mountOptions ?? ''))
    return `${what} needs file data written in place: data=journal sends it through the journal`;
  if ((s.matrix?.fs ?? [s.filesystem.type]).includes('btrfs'))
    return `${what} maps the store's blocks to device sectors: btrfs reports logical addresses`;
  return undefined;
}
