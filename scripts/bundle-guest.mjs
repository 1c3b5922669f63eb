// Bundles the engine CLI and the log-writes explorer into single ESM files for the guest
// (dist/guest/) and copies the native addon beside it; the native loader looks there first.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/guest');
mkdirSync(out, { recursive: true });
const bundles = {
  'powercut-engine.mjs': 'src/engine/cli-entry.ts',
  // Checks crash states from a dm-log-writes recording inside the target (no node start per state).
  'powercut-explore.mjs': 'src/logwrites/guest-explorer.ts',
  // Runs whole dm-flakey trials inside the target (one request per trial: src/harness/agent/).
  'powercut-agent.mjs': 'src/harness/agent/agent-entry.ts',
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
// The tracer that stops any engine at exact points (native/stop/): static, so it runs in the
// minimal guest and on any x86_64 Linux target. Rebuilt when its source changed.
const tracerSource = join(root, 'native/stop/powercut-stop.c');
const tracer = join(out, 'powercut-stop');
if (!existsSync(tracer) || statSync(tracer).mtimeMs < statSync(tracerSource).mtimeMs) {
  execFileSync(
    'cc',
    ['-O2', '-Wall', '-Wextra', '-Werror', '-static', '-o', `${tracer}.tmp`, tracerSource],
    {
      stdio: 'inherit',
    },
  );
  execFileSync('mv', [`${tracer}.tmp`, tracer]);
}
console.log(`bundled ${Object.keys(bundles).join(', ')} and powercut-stop into ${out}`);
