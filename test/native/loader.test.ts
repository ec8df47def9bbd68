// host/src/native.ts: the one loader of the addon, and its message when the addon is
// missing or broken.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const saved = process.env.MSH_NATIVE_ADDON;
afterEach(() => {
  if (saved === undefined) delete process.env.MSH_NATIVE_ADDON;
  else process.env.MSH_NATIVE_ADDON = saved;
  vi.resetModules();
});

async function freshLoader() {
  vi.resetModules();
  return import('../../host/src/native.js');
}

describe('loadNative', () => {
  it('loads the addon once and returns the same object', async () => {
    const m = await freshLoader();
    const a = m.loadNative();
    expect(a).toBe(m.loadNative());
    expect(typeof a.createSwitchLink).toBe('function');
    expect(m.nativeAddonPath()).toMatch(/msh_native\.node$/);
  });

  it('says to run npm run setup when the addon is missing', async () => {
    process.env.MSH_NATIVE_ADDON = '/nonexistent/msh_native.node';
    const m = await freshLoader();
    expect(() => m.loadNative()).toThrow('msh native addon not found at /nonexistent/msh_native.node: run npm run setup');
  });

  it('says the addon cannot be loaded, and why, when the file is not an addon', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'msh-loader-'));
    try {
      const bogus = path.join(dir, 'msh_native.node');
      writeFileSync(bogus, 'not an ELF file');
      process.env.MSH_NATIVE_ADDON = bogus;
      const m = await freshLoader();
      expect(() => m.loadNative()).toThrow(/msh native addon at .* cannot be loaded: .*(invalid ELF header|too short)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
