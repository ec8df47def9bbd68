// Where msh's own files are, whether running from TypeScript sources (vitest) or from
// the compiled dist/ tree.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'msh') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('msh: cannot find the msh package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const REPO_ROOT = findRepoRoot();
export const WIT_DIR = path.join(REPO_ROOT, 'wit');
export const SDK_DIR = path.join(REPO_ROOT, 'guest-sdk', 'assembly');
export const STACKS_DIR = path.join(REPO_ROOT, 'stacks');
export const BUILD_DIR = path.join(REPO_ROOT, 'build');
export const DIST_DIR = path.join(REPO_ROOT, 'dist');
