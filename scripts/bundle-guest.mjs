// Bundles the engine CLI into one ESM file for the guest (dist/guest/powercut-engine.mjs) and
// copies the native addon beside it; the native loader looks there first.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/guest');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src/engine/cli-entry.ts')],
  outfile: join(out, 'powercut-engine.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});
copyFileSync(
  join(root, 'native/build/Release/powercut_native.node'),
  join(out, 'powercut_native.node'),
);
console.log(`bundled ${join(out, 'powercut-engine.mjs')}`);
