#!/usr/bin/env node
// The msh command. The implementation is compiled TypeScript (host/src -> dist/);
// `npm run setup` builds it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'host', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  console.error('msh: not built yet (dist/ is missing). Run `npm run setup` in the msh directory first.');
  process.exit(1);
}
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
