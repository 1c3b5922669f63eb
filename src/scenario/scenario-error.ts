/** One problem in a scenario file: where, which field, what is wrong. */
export type ScenarioProblem = { line: number; col: number; field: string; message: string };

/**
 * Everything wrong with a scenario file, one line each, `file:line:col: field: message`,
 * sorted by position. `line`, `col` and `field` are the first problem's.
 */
export class ScenarioError extends Error {
  readonly file: string;
  readonly problems: readonly ScenarioProblem[];
  readonly line: number;
  readonly col: number;
  readonly field: string;
  constructor(file: string, problems: readonly ScenarioProblem[]) {
    const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
    super(
      sorted
        .map((p) => `${file}:${p.line}:${p.col}: ${p.field ? `${p.field}: ` : ''}${p.message}`)
        .join('\n'),
    );
    this.name = 'ScenarioError';
    this.file = file;
    this.problems = sorted;
    this.line = sorted[0]?.line ?? 0;
    this.col = sorted[0]?.col ?? 0;
    this.field = sorted[0]?.field ?? '';
  }
}
