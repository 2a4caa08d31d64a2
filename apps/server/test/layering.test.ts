/**
 * The architecture's import rules, checked on the source tree:
 * core is isomorphic (no node: imports, nothing outside core); web never imports the
 * server; services know no Fastify; only main.ts reads process.env.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (/\.(ts|vue)$/.test(name) && !name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
}

const rel = (f: string) => path.relative(ROOT, f);

/** Source text without comments, so a comment that names a rule does not break it. */
function code(file: string): string {
  return readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

describe('layering', () => {
  // The isomorphic ASN.1/X.509 libraries are the only packages core may use: they run on WebCrypto alone.
  const CORE_PACKAGES = /^(@peculiar\/[a-z0-9-]+|pkijs|asn1js|reflect-metadata|jose)$/;

  it('core imports nothing from Node, the server or the web app, and only isomorphic PKI packages', () => {
    const bad = sources(path.join(ROOT, 'packages/core/src')).flatMap((f) =>
      imports(f).filter((s) => s.startsWith('node:') || s.includes('apps/') || (!s.startsWith('.') && !s.startsWith('@coconutpay/core') && !CORE_PACKAGES.test(s))).map((s) => `${rel(f)} → ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('core reads no clock, randomness or environment by itself', () => {
    const bad = sources(path.join(ROOT, 'packages/core/src')).filter((f) => /Date\.now\(|Math\.random\(|getRandomValues\(|process\.env/.test(code(f))).map(rel);
    expect(bad).toEqual([]);
  });

  it('the web app never imports the server', () => {
    const files = sources(path.join(ROOT, 'apps/web/src'));
    expect(files.length).toBeGreaterThan(10);
    const bad = files.flatMap((f) => imports(f).filter((s) => s.includes('server') || s.startsWith('node:')).map((s) => `${rel(f)} → ${s}`));
    expect(bad).toEqual([]);
  });

  it('services and repositories know no Fastify', () => {
    const files = [...sources(path.join(ROOT, 'apps/server/src/services')), ...sources(path.join(ROOT, 'apps/server/src/db'))];
    const bad = files.flatMap((f) => imports(f).filter((s) => s.includes('fastify') || s.includes('/http/')).map((s) => `${rel(f)} → ${s}`));
    expect(bad).toEqual([]);
  });

  it('only main.ts and commands read process.env', () => {
    const bad = sources(path.join(ROOT, 'apps/server/src'))
      .filter((f) => !f.endsWith('main.ts') && !f.includes(`${path.sep}commands${path.sep}`))
      .filter((f) => code(f).includes('process.env'))
      .map(rel);
    expect(bad).toEqual([]);
  });
});
