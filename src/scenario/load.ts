import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { isMap, isNode, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { scenarioSchemaChecked, type Scenario } from './schema.ts';
import { ScenarioError } from './scenario-error.ts';

export type LoadedScenario = { file: string; name: string; scenario: Scenario; source: string };

/**
 * Parses and validates one scenario file. Throws a ScenarioError naming file:line:col and the
 * field for the first problem (YAML syntax, unknown key, wrong type, bad value).
 * @example const { scenario } = await loadScenarioFile('scenarios/fsync-vs-plain.yaml');
 */
export async function loadScenarioFile(file: string): Promise<LoadedScenario> {
  const source = await readFile(file, 'utf8');
  return parseScenario(file, source);
}

export function parseScenario(file: string, source: string): LoadedScenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = lineCounter.linePos(syntax.pos[0]);
    throw new ScenarioError(
      file,
      pos.line,
      pos.col,
      '',
      `invalid YAML: ${firstLine(syntax.message)}`,
    );
  }
  const result = scenarioSchemaChecked.safeParse(doc.toJS());
  if (!result.success) {
    const issue = unwrapUnion(result.error.issues[0]!);
    const { offset, field } = locate(doc, issue);
    const pos = lineCounter.linePos(offset);
    throw new ScenarioError(file, pos.line, pos.col, field, describe(issue));
  }
  const name = result.data.name ?? basename(file, extname(file));
  return { file, name, scenario: result.data, source };
}

function locate(doc: Document, issue: z.core.$ZodIssue): { offset: number; field: string } {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  let node: unknown = doc.contents;
  let offset = isNode(node) ? (node.range?.[0] ?? 0) : 0;
  for (const key of path) {
    const next =
      isNode(node) && 'get' in node
        ? (node as { get(k: unknown, keep: true): unknown }).get(key, true)
        : undefined;
    if (!isNode(next)) break;
    node = next;
    offset = (next as Node).range?.[0] ?? offset;
  }
  let field = path.join('.');
  if (issue.code === 'unrecognized_keys' && isMap(node)) {
    const unknown = issue.keys[0];
    const pair = node.items.find(
      (p) => isNode(p.key) && (p.key as { value?: unknown }).value === unknown,
    );
    if (pair && isNode(pair.key)) offset = pair.key.range?.[0] ?? offset;
    field = [...path, unknown].join('.');
  }
  return { offset, field };
}

/** For a union (builtin vs external engine), report the branch that came closest to matching. */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.errors.length === 0)
    return issue;
  const closest = issue.errors.reduce((best, branch) =>
    branch.length < best.length ? branch : best,
  );
  const inner = closest[0];
  if (!inner) return issue;
  return unwrapUnion({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key (allowed keys are listed in docs/scenarios.md)`;
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return firstLine(issue.message);
}

const firstLine = (s: string): string => s.split('\n')[0] ?? s;
