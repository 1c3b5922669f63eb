// Bundles the compiled CLI (dist/cli/main.js, from tsc) with its dependencies into
// dist/bin/powercut.js plus lazily loaded chunks: one file to read at start instead of hundreds,
// so `powercut --help` and `powercut validate` start in a fraction of a second. ssh2 stays a
// package (optional native parts); the library API (dist/index.js) is left as tsc emits it.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/bin');
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: { powercut: join(root, 'dist/cli/main.js') },
  outdir: out,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['ssh2', 'cpu-features'],
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});
console.log(`bundled the CLI into ${out}`);
