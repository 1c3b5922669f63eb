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

test('every shipped scenario names the schema for editors (yaml-language-server), and the schema explains its keys', async (t) => {
  const { readdirSync } = await import('node:fs');
  for (const f of readdirSync('scenarios').filter((n) => n.endsWith('.yaml')))
    t.true(
      readFileSync(`scenarios/${f}`, 'utf8').startsWith(
        '# yaml-language-server: $schema=../schema/scenario.schema.json\n',
      ),
      f,
    );
  const schema = JSON.parse(readFileSync('schema/scenario.schema.json', 'utf8')) as {
    properties: Record<
      string,
      {
        description?: string;
        properties?: Record<string, { description?: string; enum?: unknown[] }>;
      }
    >;
  };
  t.regex(schema.properties.engine!.description ?? '', /engine under test/);
  t.deepEqual(schema.properties.fault!.properties!.kind!.enum, [
    'drop_writes',
    'error_writes',
    'corrupt_bio_byte',
    'error_reads',
    'log-writes',
  ]);
  t.truthy(schema.properties.fault!.properties!.kind!.description);
});
