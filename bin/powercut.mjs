#!/usr/bin/env node
// The compiled CLI (dist/bin, made by `npm run build`, which `prepare` runs on install and pack).
import { existsSync } from 'node:fs';
const main = new URL('../dist/bin/powercut.js', import.meta.url);
if (!existsSync(main)) {
  console.error(
    `powercut: not built: run \`npm run build\` in ${new URL('..', import.meta.url).pathname}`,
  );
  process.exit(3);
}
await import(main.href);
