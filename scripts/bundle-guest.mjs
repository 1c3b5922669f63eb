// Bundles the engine CLI, the log-writes explorer and the trial agent into single files for the
// guest (dist/guest/) and copies the native addon beside it; the native loader looks there first.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/guest');
mkdirSync(out, { recursive: true });
// The engine is CommonJS: it starts once per trial, and in a guest under TCG node's ESM loader
// cost ~60 ms of its start. The long-lived explorer and agent stay ESM.
const bundles = {
  'powercut-engine.cjs': 'src/engine/cli-entry.ts',
  // Checks crash states from a dm-log-writes recording inside the target (no node start per state).
  'powercut-explore.mjs': 'src/logwrites/guest-explorer.ts',
  // Runs whole dm-flakey trials inside the target (one request per trial: src/harness/agent/).
  'powercut-agent.mjs': 'src/harness/agent/agent-entry.ts',
};
for (const [file, entry] of Object.entries(bundles)) {
  const cjs = file.endsWith('.cjs');
  await build({
    entryPoints: [join(root, entry)],
    outfile: join(out, file),
    bundle: true,
    platform: 'node',
    format: cjs ? 'cjs' : 'esm',
    target: 'node20',
    logLevel: 'warning',
    ...(cjs
      ? {
          // The sources find the addon and the package from import.meta.url.
          define: { 'import.meta.url': '__import_meta_url' },
          banner: {
            js: "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;",
          },
        }
      : {
          banner: {
            js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
          },
        }),
  });
}
copyFileSync(
  join(root, 'native/build/Release/powercut_native.node'),
  join(out, 'powercut_native.node'),
);
// The static tools (native/): the tracer that stops any engine at exact points, and the
// device-mapper table swap. Static, so they run in the minimal guest and on any x86_64 Linux
// target, and start in a few ms where a dynamic binary pays its loader (~50-100 ms under TCG).
// Each is rebuilt when its source changed.
const tools = {
  'powercut-stop': 'native/stop/powercut-stop.c',
  'powercut-dm': 'native/dm/powercut-dm.c',
};
for (const [name, source] of Object.entries(tools)) {
  const tool = join(out, name);
  const from = join(root, source);
  if (!existsSync(tool) || statSync(tool).mtimeMs < statSync(from).mtimeMs) {
    execFileSync(
      'cc',
      ['-O2', '-Wall', '-Wextra', '-Werror', '-static', '-o', `${tool}.tmp`, from],
      {
        stdio: 'inherit',
      },
    );
    execFileSync('mv', [`${tool}.tmp`, tool]);
  }
}
console.log(
  `bundled ${Object.keys(bundles).join(', ')}, ${Object.keys(tools).join(', ')} into ${out}`,
);
