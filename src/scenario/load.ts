import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { isMap, isNode, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { engineBranches, scenarioSchema, scenarioSchemaChecked, type Scenario } from './schema.ts';
import { ScenarioError, type ScenarioProblem } from './scenario-error.ts';
import { listOf, nearest } from './suggest.ts';

export type LoadedScenario = { file: string; name: string; scenario: Scenario; source: string };

/**
 * Parses and validates one scenario file. Throws a ScenarioError listing every problem, sorted
 * by position, each as `file:line:col: field: message` naming the offending key or value and,
 * for a near miss, the valid one it was probably meant to be.
 * @example const { scenario } = await loadScenarioFile('scenarios/fsync-vs-plain.yaml');
 */
export async function loadScenarioFile(file: string): Promise<LoadedScenario> {
  const source = await readFile(file, 'utf8');
  return parseScenario(file, source);
}

export function parseScenario(file: string, source: string): LoadedScenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({
        ...at(e.pos[0]),
        field: '',
        message: `invalid YAML: ${firstLine(e.message)}`,
      })),
    );
  }
  const input: unknown = doc.toJS();
  const result = scenarioSchemaChecked.safeParse(input);
  const problems: ScenarioProblem[] = result.success
    ? missingUploads(doc, file, result.data).map((p) => ({
        ...at(p.offset),
        field: p.field,
        message: p.message,
      }))
    : describeIssues(doc, input, result.error.issues).map((p) => ({
        ...at(p.offset),
        field: p.field,
        message: p.message,
      }));
  if (problems.length > 0) throw new ScenarioError(file, problems);
  const name = result.data!.name ?? basename(file, extname(file));
  return { file, name, scenario: result.data!, source };
}

type Located = { offset: number; field: string; message: string };
type Issue = z.core.$ZodIssue;
type Key = string | number;

/** Every zod issue as a located problem; unions resolved to the branch the input meant. */
function describeIssues(doc: Document, input: unknown, issues: readonly Issue[]): Located[] {
  const flat = engineIssues(
    input,
    issues.flatMap((issue) => unwrapUnion(issue, input)),
  );
  const out: Located[] = [];
  // A missing key next to an unknown key that is its near miss (`kindd` for `kind`) is one
  // mistake: report the unknown key, with the suggestion.
  const suggested = new Set<string>();
  for (const issue of flat) {
    if (issue.code !== 'unrecognized_keys') continue;
    const path = keyPath(issue);
    const allowed = keysAt(scenarioSchema, path, valueAt(input, path));
    for (const key of issue.keys) {
      const suggestion = nearest(key, allowed);
      if (suggestion) suggested.add([...path, suggestion].join('.'));
      out.push({
        offset: keyOffset(doc, path, key),
        field: [...path, key].join('.'),
        message: `unknown key ${JSON.stringify(key)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : allowed.length > 0 ? ` (allowed here: ${allowed.join(', ')})` : ''}`,
      });
    }
  }
  for (const issue of flat) {
    if (issue.code === 'unrecognized_keys') continue;
    const path = keyPath(issue);
    const field = path.join('.');
    const value = valueAt(input, path);
    if (value === undefined && suggested.has(field)) continue;
    out.push({ offset: valueOffset(doc, path), field, message: describe(issue, value) });
  }
  const seen = new Set<string>();
  return out
    .filter((p) => {
      const k = `${p.offset}\0${p.field}\0${p.message}`;
      return !seen.has(k) && (seen.add(k), true);
    })
    .sort((a, b) => a.offset - b.offset);
}

function describe(issue: Issue, value: unknown): string {
  const shown = JSON.stringify(value);
  switch (issue.code) {
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const suggestion = typeof value === 'string' ? nearest(value, allowed) : undefined;
      return `unknown value ${shown}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}: must be ${listOf(issue.values)}`;
    }
    case 'invalid_type':
      return value === undefined
        ? `missing: a ${issue.expected} is required here`
        : `expected a ${issue.expected}, got ${Array.isArray(value) ? 'a list' : `a ${value === null ? 'null' : typeof value}`}: ${shown}`;
    case 'too_small':
      return `${shown} is too small: must be ${issue.inclusive === false ? '>' : '≥'} ${String(issue.minimum)}`;
    case 'too_big':
      return `${shown} is too big: must be ${issue.inclusive === false ? '<' : '≤'} ${String(issue.maximum)}`;
    case 'invalid_format':
      return `${shown} is not valid: ${firstLine(issue.message)}`;
    default:
      return firstLine(issue.message);
  }
}

/**
 * A union's issues (built-in or user engine; an arm point's forms) come per branch: keep the
 * branch the input meant, the one that recognises its keys, then the one with fewest issues.
 */
function unwrapUnion(issue: Issue, input: unknown): Issue[] {
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.errors.length === 0)
    return [issue];
  const score = (branch: readonly Issue[]): [number, number] => [
    branch.filter((i) => i.code === 'unrecognized_keys').length,
    branch.length,
  ];
  const best = issue.errors.reduce((a, b) => {
    const [ua, na] = score(a);
    const [ub, nb] = score(b);
    return ub < ua || (ub === ua && nb < na) ? b : a;
  });
  return best.flatMap((inner) =>
    unwrapUnion({ ...inner, path: [...issue.path, ...inner.path] } as Issue, input),
  );
}

/**
 * The engine is a built-in one or a user's, and zod may report the branch the input did not
 * mean (`mode: fsnyc` as "unknown key mode" of a user engine). Validate the engine against
 * each branch and keep the closer one's issues.
 */
function engineIssues(input: unknown, issues: Issue[]): Issue[] {
  const engine = valueAt(input, ['engine']);
  if (engine === null || typeof engine !== 'object' || !issues.some((i) => i.path[0] === 'engine'))
    return issues;
  const branches = engineBranches.map((schema) => {
    const r = schema.safeParse(engine);
    return r.success
      ? []
      : r.error.issues.map((i) => ({ ...i, path: ['engine', ...i.path] }) as Issue);
  });
  const score = (b: Issue[]): number =>
    b.filter((i) => i.code === 'unrecognized_keys').length * 1000 + b.length;
  const best = branches.reduce((a, b) => (score(b) < score(a) ? b : a));
  return [...issues.filter((i) => i.path[0] !== 'engine'), ...best];
}

const keyPath = (issue: Issue): Key[] =>
  issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)) as Key[];

function valueAt(input: unknown, path: readonly Key[]): unknown {
  let v = input;
  for (const k of path)
    v = v !== null && typeof v === 'object' ? (v as Record<Key, unknown>)[k] : undefined;
  return v;
}

/** The node at `path`, or its deepest existing ancestor. */
function nodeAt(doc: Document, path: readonly Key[]): unknown {
  let node: unknown = doc.contents;
  for (const key of path) {
    const next =
      isNode(node) && 'get' in node
        ? (node as { get(k: unknown, keep: true): unknown }).get(key, true)
        : undefined;
    if (!isNode(next)) break;
    node = next;
  }
  return node;
}

function valueOffset(doc: Document, path: readonly Key[]): number {
  const node = nodeAt(doc, path);
  return isNode(node) ? ((node as Node).range?.[0] ?? 0) : 0;
}

function keyOffset(doc: Document, path: readonly Key[], key: string): number {
  const node = nodeAt(doc, path);
  if (isMap(node)) {
    const pair = node.items.find(
      (p) => isNode(p.key) && (p.key as { value?: unknown }).value === key,
    );
    if (pair && isNode(pair.key)) return pair.key.range?.[0] ?? 0;
  }
  return valueOffset(doc, path);
}

type Def = {
  type: string;
  shape?: Record<string, unknown>;
  options?: unknown[];
  innerType?: unknown;
  element?: unknown;
  in?: unknown;
  valueType?: unknown;
};
const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } })?._zod?.def;

/**
 * The keys an object at `path` of the schema may have. For a union of objects, the keys of the
 * branch sharing most keys with `value` (the object written there).
 */
export function keysAt(schema: unknown, path: readonly Key[], value?: unknown): string[] {
  const written = value !== null && typeof value === 'object' ? Object.keys(value) : [];
  let found = new Set<string>();
  const walk = (s: unknown, rest: readonly Key[]): void => {
    const def = defOf(s);
    if (!def) return;
    switch (def.type) {
      case 'optional':
      case 'default':
      case 'nullable':
      case 'prefault':
      case 'readonly':
        return walk(def.innerType, rest);
      case 'pipe':
        return walk(def.in, rest);
      case 'union': {
        // Each branch separately; keep the one that shares most keys with what was written.
        let best: Set<string> | undefined;
        for (const option of def.options ?? []) {
          const outer = found;
          found = new Set();
          walk(option, rest);
          const score = (keys: Set<string>): number => written.filter((k) => keys.has(k)).length;
          if (!best || score(found) > score(best)) best = found;
          found = outer;
        }
        for (const k of best ?? []) found.add(k);
        return;
      }
      case 'array':
        if (rest.length > 0) walk(def.element, rest.slice(1));
        return;
      case 'record':
        if (rest.length > 0) walk(def.valueType, rest.slice(1));
        return;
      case 'object':
        if (rest.length === 0) for (const k of Object.keys(def.shape ?? {})) found.add(k);
        else if (def.shape && String(rest[0]) in def.shape)
          walk(def.shape[String(rest[0])], rest.slice(1));
        return;
    }
  };
  walk(schema, path);
  return [...found];
}

/** A user engine's upload must exist, unless a build makes it (validate runs the build). */
function missingUploads(doc: Document, file: string, s: Scenario): Located[] {
  const e = s.engine;
  if ('mode' in e || !e.upload || e.build) return [];
  const local = isAbsolute(e.upload) ? e.upload : join(dirname(file), e.upload);
  if (existsSync(local)) return [];
  return [
    {
      offset: valueOffset(doc, ['engine', 'upload']),
      field: 'engine.upload',
      message: `${JSON.stringify(e.upload)} does not exist (relative to the scenario file: ${local}); add engine.build to make it`,
    },
  ];
}

const firstLine = (s: string): string => s.split('\n')[0] ?? s;
