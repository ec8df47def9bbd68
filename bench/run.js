#!/usr/bin/env node
// npm run bench -- <name> [args]: runs bench/<name>.ts (compiled to dist/bench/<name>.js).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist', 'bench');
const [name, ...args] = process.argv.slice(2);
const available = existsSync(dist) ? readdirSync(dist).filter((f) => f.endsWith('.js') && !f.startsWith('_')).map((f) => f.slice(0, -3)) : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>   (available: ${available.join(', ') || 'none: run npm run setup'})`);
  process.exit(2);
}
const mod = await import(path.join(dist, `${name}.js`));
process.exitCode = (await mod.main(args)) ?? 0;
