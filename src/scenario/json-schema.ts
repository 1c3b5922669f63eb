import { z } from 'zod';
import { scenarioSchema } from './schema.ts';

/** The scenario language as JSON Schema (draft 2020-12), pretty-printed with a final newline. */
export function scenarioJsonSchema(): string {
  const schema = z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ $id: 'https://powercut.invalid/scenario.schema.json', title: 'powercut scenario', ...schema }, null, 2)}\n`;
}
