import { main } from './cli.ts';
import { serve } from './serve.ts';

// A reader that went away (`dump | head`) is not an engine failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// Entry point of the engine CLI (and of the guest bundle, CommonJS: no top-level await). Waits
// for stdout to drain so no event line is lost when the process ends.
async function run(argv: string[]): Promise<void> {
  if (argv[0] === 'serve') await serve(process.stdin, process.stdout);
  else process.exitCode = await main(argv);
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
}

run(process.argv.slice(2)).catch((error: unknown) => {
  // What a rejected top-level await did: the error on stderr, exit 1.
  console.error(error);
  process.exit(1);
});
