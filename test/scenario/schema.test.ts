import test from 'ava';
import { readFileSync } from 'node:fs';
import { scenarioJsonSchema } from '../../src/scenario/json-schema.ts';

test('schema/scenario.schema.json is current (regenerate: node --import tsx scripts/scenario-schema.ts)', (t) => {
  t.is(readFileSync('schema/scenario.schema.json', 'utf8'), scenarioJsonSchema());
});

test('the JSON Schema is strict like the loader: unknown keys are not allowed', (t) => {
  const schema = JSON.parse(scenarioJsonSchema()) as {
    additionalProperties?: boolean;
    properties: Record<string, unknown>;
  };
  t.is(schema.additionalProperties, false);
  for (const key of ['engine', 'workload', 'fault', 'expect', 'matrix'])
    t.truthy(schema.properties[key], key);
});
