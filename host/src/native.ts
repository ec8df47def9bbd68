// The one loader of the native addon (build/Release/msh_native.node). Every module and
// every worker_thread gets the addon through loadNative(); its surface is typed in
// native/index.d.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { MshNative } from '../../native/index.js';
import { MshError } from './errors.js';
import { BUILD_DIR } from './paths.js';

export type * from '../../native/index.js';

let cached: MshNative | undefined;

/** Where the addon is loaded from: $MSH_NATIVE_ADDON (e.g. a sanitizer build) or build/Release. */
export function nativeAddonPath(): string {
  return process.env.MSH_NATIVE_ADDON || path.join(BUILD_DIR, 'Release', 'msh_native.node');
}

/** The addon, loaded once per thread. Throws an MshError saying what to run if it is missing. */
export function loadNative(): MshNative {
  if (cached) return cached;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw new MshError(`msh native addon not found at ${file}: run npm run setup`, 'npm run setup builds it');
  }
  try {
    cached = createRequire(import.meta.url)(file) as MshNative;
  } catch (e) {
    throw new MshError(`msh native addon at ${file} cannot be loaded: ${(e as Error).message}`,
      'rebuild it: run npm run setup');
  }
  return cached;
}
