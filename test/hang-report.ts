/**
 * Loaded into every ava worker (package.json, ava.nodeArguments). What hangs a test run is a
 * worker that does not end: a test that never settles, or a handle left open after the last
 * test (ava waits for the worker to exit). On SIGUSR2, which .ci/run sends when the tests
 * outlive their limit, the worker names its test file and what keeps it alive, on stderr
 * (ava prints it).
 */
import process from 'node:process';

type AvaMessage = { ava?: { type?: string; options?: { file?: string } } };

let file = '(test file not known yet)';
let testsDone = false;

if (process.send) {
  // ava sends the file in its options, and frees the worker once its tests are done.
  const onMessage = (message: AvaMessage): void => {
    if (message.ava?.type === 'options') file = message.ava.options?.file ?? file;
    if (message.ava?.type === 'free-worker') {
      testsDone = true;
      // A listener refs the IPC channel: this one must not keep the worker alive.
      process.off('message', onMessage);
    }
  };
  process.on('message', onMessage);
}

/** One open handle, told apart enough to find who left it. */
function describe(handle: unknown): string {
  const h = handle as Record<string, unknown> & { constructor?: { name?: string } };
  const kind = h.constructor?.name ?? typeof handle;
  if (kind === 'ChildProcess')
    return `child ${String(h.pid)} \`${((h.spawnargs as string[] | undefined) ?? []).join(' ').slice(0, 160)}\``;
  if (kind === 'Socket') {
    const fd = (h._handle as { fd?: number } | null)?.fd;
    return fd !== undefined && fd <= 2
      ? `stdio ${fd}`
      : `socket ${String(h.remotePort ?? fd ?? '')}`;
  }
  if (kind === 'Timeout') return `timer ${String(h._idleTimeout)} ms`;
  return kind;
}

/** How many of each kind of resource keeps the event loop going (timers are only here). */
function resourceCounts(): string {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo())
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${kind}×${n}`).join(', ');
}

process.on('SIGUSR2', () => {
  // Undocumented, but the one way to see which child or socket it is.
  const active = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  const handles = (active ? active.call(process).map(describe) : []).filter(
    (h) => !h.startsWith('stdio'),
  );
  process.stderr.write(
    `hang report (pid ${process.pid}): ${file}: ${testsDone ? 'its tests are done' : 'a test still runs'}; ` +
      `open: ${handles.join(', ') || 'nothing but stdio'}; resources: ${resourceCounts()}\n`,
  );
});
