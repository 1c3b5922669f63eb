/** A problem in a scenario file, located as `file:line:col: field: message`. */
export class ScenarioError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly field: string;
  constructor(file: string, line: number, col: number, field: string, message: string) {
    super(`${file}:${line}:${col}: ${field ? `${field}: ` : ''}${message}`);
    this.name = 'ScenarioError';
    this.file = file;
    this.line = line;
    this.col = col;
    this.field = field;
  }
}
