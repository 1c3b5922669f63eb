// Writes schema/scenario.schema.json from the zod schema (editors use it to autocomplete
// scenario files); test/scenario/schema.test.ts fails when it is out of date.
import { writeFileSync } from 'node:fs';
import { scenarioJsonSchema } from '../src/scenario/json-schema.ts';

writeFileSync(new URL('../schema/scenario.schema.json', import.meta.url), scenarioJsonSchema());
console.log('wrote schema/scenario.schema.json');
