import { main } from './cli.ts';

// A reader that went away (`dump | head`) is not an engine failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// Entry point of the engine CLI (and of the guest bundle). Waits for stdout to drain so no
// event line is lost when the process ends.
await main(process.argv.slice(2));
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
