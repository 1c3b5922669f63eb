import type { StopEvent } from '../../model/history.ts';
import type { SyscallEvent } from '../../model/stop-events.ts';
import { HarnessError } from '../errors.ts';
import { quote } from './engine-command.ts';
import { guestEngineDir } from './guest-engine.ts';

/** powercut's tracer in the target (native/stop/powercut-stop.c, uploaded with the engines). */
export const tracerPath = `${guestEngineDir}/powercut-stop`;

/** One point at which the tracer stops the engine, named by a label the nemesis acts on. */
export type StopPoint =
  /** Once every op in `answers` was answered (ok or fail) and every op in `invoked` started. */
  | { label: string; kind: 'answers'; answers: readonly number[]; invoked: readonly number[] }
  | { label: string; kind: 'acks'; n: number }
  | { label: string; kind: 'syscall'; event: SyscallEvent; n: number; when: 'before' | 'after' };

/** `[1,2,3,5,7,8]` → `1-3,5,7-8` (the tracer's id list syntax). */
export function idRanges(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

const labelPattern = /^[a-z][a-z0-9-]{0,30}$/;

function stopSpec(p: StopPoint): string {
  if (!labelPattern.test(p.label)) throw new HarnessError(`invalid stop label ${p.label}`);
  switch (p.kind) {
    case 'answers':
      if (p.answers.length === 0 && p.invoked.length === 0)
        throw new HarnessError(`stop ${p.label}: no op to wait for`);
      return `${p.label}:answers:${idRanges(p.answers)}${p.invoked.length > 0 ? `:invoked:${idRanges(p.invoked)}` : ''}`;
    case 'acks':
      return `${p.label}:acks:${p.n}`;
    case 'syscall':
      return `${p.label}:${p.event}:${p.n}:${p.when}`;
  }
}

/**
 * The command line that runs `command` (an engine's `run`) under the tracer: stopped at `stops`,
 * with `mark ack:<id>` put into the log-writes table `markAcks` after each ack, and the tracer's
 * pid and start time written to `pidFile` (so a later sweep can prove it is ours).
 */
export function tracedCommand(
  command: string,
  o: { pidFile: string; store?: string; markAcks?: string; stops?: readonly StopPoint[] },
): string {
  const args = ['--pidfile', o.pidFile];
  if (o.store) args.push('--store', o.store);
  if (o.markAcks) args.push('--mark-acks', o.markAcks);
  for (const stop of o.stops ?? []) args.push('--stop', stopSpec(stop));
  return `${tracerPath} ${args.map(quote).join(' ')} -- ${quote(command)}`;
}

/** A tracer event line: a stop, or a note (`inexact-mark`). */
export type TracerLine =
  { type: 'stop'; stop: StopEvent } | { type: 'note'; note: string; op?: number };

/** Parses a line the tracer wrote between the engine's lines; null when it is not one. */
export function parseTracerLine(value: Record<string, unknown>): TracerLine | null {
  if (value.type === 'stop' && typeof value.label === 'string' && typeof value.event === 'string') {
    const num = (k: string): number | undefined =>
      typeof value[k] === 'number' ? (value[k] as number) : undefined;
    const n = num('n');
    const op = num('id');
    const ret = num('ret');
    return {
      type: 'stop',
      stop: {
        type: 'stop',
        t: num('t') ?? 0,
        label: value.label,
        event: value.event,
        ...(n !== undefined ? { n } : {}),
        ...(op !== undefined ? { op } : {}),
        ...(typeof value.path === 'string' ? { path: value.path } : {}),
        ...(ret !== undefined ? { ret } : {}),
        exact: value.exact === true,
      },
    };
  }
  if (value.type === 'note' && typeof value.note === 'string')
    return {
      type: 'note',
      note: value.note,
      ...(typeof value.id === 'number' ? { op: value.id } : {}),
    };
  return null;
}
