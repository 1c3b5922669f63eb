#!/usr/bin/env node
// Runs the CLI from source through tsx (the package ships TypeScript sources).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
