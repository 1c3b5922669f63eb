import { serveTrials } from './agent-serve.ts';

// Entry point of the trial agent's guest bundle (powercut-agent.mjs). A host that went away
// leaves stdout closed: what is left to say is lost, the trials still clean up.
process.stdout.on('error', () => undefined);
await serveTrials(process.stdin, process.stdout);
