// Bundles the engine CLI and the log-writes explorer into single ESM files for the guest
// (dist/guest/) and copies the native addon beside it; the native loader looks there first.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/guest');
mkdirSync(out, { recursive: true });
const bundles = {
  'powercut-engine.mjs': 'src/engine/cli-entry.ts',
  // Checks crash states from a dm-log-writes recording inside the target (no node start per state).
  'powercut-explore.mjs': 'src/logwrites/guest-explorer.ts',
};
for (const [file, entry] of Object.entries(bundles)) {
  await build({
    entryPoints: [join(root, entry)],
    outfile: join(out, file),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
}
copyFileSync(
  join(root, 'native/build/Release/powercut_native.node'),
  join(out, 'powercut_native.node'),
);
console.log(`bundled ${Object.keys(bundles).join(', ')} into ${out}`);
