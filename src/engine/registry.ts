import { cowEngine } from './cow.ts';
import type { EngineMode, EngineModeName } from './engine.ts';
import { fsyncEngine } from './fsync.ts';
import { groupCommitEngine } from './group-commit.ts';
import { plainEngine } from './plain.ts';
import { slottedEngine } from './slotted.ts';

export const engineModes: Record<EngineModeName, EngineMode> = {
  plain: plainEngine,
  fsync: fsyncEngine,
  'group-commit': groupCommitEngine,
  cow: cowEngine,
  slotted: slottedEngine,
};

/** The built-in engine called `name`, or an error listing the valid names. */
export function getEngineMode(name: string): EngineMode {
  const mode = (engineModes as Record<string, EngineMode | undefined>)[name];
  if (!mode)
    throw new Error(
      `unknown engine mode ${JSON.stringify(name)}: use one of ${Object.keys(engineModes).join(', ')}`,
    );
  return mode;
}
