import { checkScenario } from './scenario-checks.ts';
import { scenarioSchema } from './scenario-shape.ts';
import type { engineExtensions } from './engine-schema.ts';

/**
 * The scenario language (YAML files in scenarios/), in three parts: engine-schema.ts (the
 * engine and expectations), fault-schema.ts (the fault and its arm points), scenario-shape.ts
 * (a whole file); scenario-checks.ts adds what shapes cannot say.
 */
export * from './engine-schema.ts';
export * from './fault-schema.ts';
export * from './scenario-shape.ts';

export const scenarioSchemaChecked = scenarioSchema.superRefine(checkScenario);

export type EngineExtension = (typeof engineExtensions)[number];
