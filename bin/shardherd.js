#!/usr/bin/env -S node --max-semi-space-size=1 --no-concurrent-recompilation
// Entry point. An installed package runs the JavaScript compiled into dist/ at pack time; a git
// checkout runs its TypeScript sources through tsx's loader (a dev dependency), so that a dist/
// built earlier can never run instead of the sources beside it.
// The flags above trim an idle agent's resident memory (`npm run bench -- footprint`): V8's young
// generation at 1 MB semi-spaces instead of 16 (an idle agent has little to allocate), and the
// optimizing compiler kept but run on the main thread, so no compiler threads hold memory of their
// own. Each was measured to leave the Citus manager's repoint at 500 groups as fast as before.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const checkout = existsSync(new URL('../src/cli/main.ts', import.meta.url));
const loader = checkout ? await import('tsx/esm/api').catch(() => null) : null;
if (loader !== null) {
  loader.register();
  await import('../src/cli/main.ts');
} else {
  await import('../dist/cli/main.js');
}
