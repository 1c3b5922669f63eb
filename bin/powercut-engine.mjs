#!/usr/bin/env node
// The built-in engines behind the engine protocol. Runs the bundled build when present
// (dist/guest, what the VM runs), else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
const bundle = new URL('../dist/guest/powercut-engine.cjs', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/engine/cli-entry.ts');
}
