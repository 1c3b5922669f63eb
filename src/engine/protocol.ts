import type { DumpEntry, EngineEvent } from '../model/history.ts';
import type { InputLine } from '../model/workload.ts';

/** A bad input line, named by its line number and field (the CLI prints it and exits 2). */
export class ProtocolError extends Error {
  constructor(line: number, field: string, message: string) {
    super(`stdin:${line}: ${field}: ${message}`);
    this.name = 'ProtocolError';
  }
}

const isId = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and validates one workload line (engine protocol v1).
 * @example parseInputLine('{"op":"write","id":1,"page":3,"value":"w1"}', 1)
 */
export function parseInputLine(text: string, line: number): InputLine {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError(line, 'line', 'not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError(line, 'line', 'not a JSON object');
  const o = v as Record<string, unknown>;
  switch (o.op) {
    case 'resume':
      return { op: 'resume' };
    case 'write':
      if (!isId(o.id)) throw new ProtocolError(line, 'id', 'must be a non-negative integer');
      if (!isId(o.page)) throw new ProtocolError(line, 'page', 'must be a non-negative integer');
      if (typeof o.value !== 'string') throw new ProtocolError(line, 'value', 'must be a string');
      return { op: 'write', id: o.id, page: o.page, value: o.value };
    case 'commit':
      if (!isId(o.id)) throw new ProtocolError(line, 'id', 'must be a non-negative integer');
      return { op: 'commit', id: o.id };
    case 'mark':
      if (!isId(o.id)) throw new ProtocolError(line, 'id', 'must be a non-negative integer');
      if (typeof o.name !== 'string') throw new ProtocolError(line, 'name', 'must be a string');
      return { op: 'mark', id: o.id, name: o.name };
    default:
      throw new ProtocolError(
        line,
        'op',
        `must be write, commit, mark or resume, got ${JSON.stringify(o.op)}`,
      );
  }
}

export const formatEvent = (e: EngineEvent): string => JSON.stringify(e);
export const formatDumpEntry = (e: DumpEntry): string => JSON.stringify(e);
