// Shared pieces of the fallback-backend tests: the driver process (driver.mjs inside a
// namespace, JSON lines; test/helpers/driver.ts) and kernel-side probes run in the peer
// namespace (test/helpers/peer.ts).
import { existsSync, statSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve, join } from 'node:path';
import { nsExec } from '../../host/src/netns.js';
import { Driver as DriverProcess, addonPath, root, type PortConfig } from '../helpers/driver.js';

export { addonPath, isRoot, root } from '../helpers/driver.js';
export { probeTcp, probeUdp, socatEcho, udpBurst } from '../helpers/peer.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The driver runs the compiled control code (dist/): refuse to test a stale build. */
export function requireBuild(): void {
  if (!existsSync(addonPath)) throw new Error(`build first (bash scripts/build.sh): ${addonPath} missing`);
  const srcDir = join(root, 'host/src/backends');
  for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.ts'))) {
    const js = join(root, 'dist/host/src/backends', f.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(srcDir, f)).mtimeMs) {
      throw new Error(`dist/ is older than host/src/backends/${f}: run bash scripts/build.sh (or npx tsc -p tsconfig.json)`);
    }
  }
}

export interface DriverConfig {
  backend: 'packet' | 'tap';
  ifname?: string;
  nft?: boolean;
  packet?: Record<string, unknown>;
  tap?: { mode: 'steer' | 'routed'; addresses?: string[]; tapName?: string };
  ports?: PortConfig[];
}

/** test/backends/driver.mjs in a namespace. */
export class Driver extends DriverProcess {
  static start(ns: string, cfg: DriverConfig): Driver {
    return new Driver(resolve(here, 'driver.mjs'), ns, cfg);
  }
}

export function nftTables(ns: string): string[] {
  return nsExec(ns, 'nft', ['list', 'tables']).split('\n').map((l) => l.trim()).filter(Boolean);
}
export function links(ns: string): string[] {
  return JSON.parse(nsExec(ns, 'ip', ['-j', 'link', 'show'])).map((l: any) => l.ifname);
}
