/**
 * The architecture's import rules, checked on the source tree:
 * core is isomorphic (no node: imports, nothing outside core); web never imports the
 * server; services know no Fastify; only main.ts reads process.env; the compiled server
 * and CLI load only production dependencies; core is reached only through its listed entries.
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

  // tsc compiles each source file to one JavaScript file with the same imports, less the
  // type-only ones; so what the sources import at run time is what dist/ loads.
  const runtimeImports = (file: string) =>
    [...code(file).matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => m[1] ?? m[2]!);
  const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
  const manifest = (dir: string) => JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>; devDependencies?: Record<string, string>; scripts: Record<string, string>;
    exports: Record<string, Record<string, string>>;
  };

  it.each(['packages/core', 'apps/server', 'apps/cli'])('%s loads at run time only packages it lists as dependencies (not devDependencies)', (dir) => {
    const dependencies = manifest(dir).dependencies ?? {};
    const files = sources(path.join(ROOT, dir, 'src'));
    expect(files.length).toBeGreaterThan(5);
    const bad = files.flatMap((f) => runtimeImports(f)
      .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && dependencies[packageOf(s)] === undefined)
      .map((s) => `${rel(f)} → ${s}`));
    expect(bad).toEqual([]);
  });

  it('npm start runs the compiled server with node, not a devDependency such as tsx', () => {
    expect(manifest('.').scripts.start).toBe('node apps/server/dist/main.js');
  });

  it('core exports a fixed list of entries, each with its source, types and JavaScript, and nothing imports past them', () => {
    const entries = manifest('packages/core').exports;
    expect(Object.keys(entries).filter((k) => k.includes('*'))).toEqual([]);
    for (const [entry, targets] of Object.entries(entries)) {
      expect(Object.keys(targets), entry).toEqual(['source', 'types', 'default']);
      expect(statSync(path.join(ROOT, 'packages/core', targets.source!)).isFile(), entry).toBe(true);
      expect(targets.default, entry).toBe(targets.source!.replace('./src/', './dist/').replace(/\.ts$/, '.js'));
    }
    const importers = ['apps', 'bench', 'e2e'].flatMap((dir) => allSources(path.join(ROOT, dir)));
    const unlisted = importers.flatMap((f) => imports(f)
      .filter((s) => s === '@coconutpay/core' || s.startsWith('@coconutpay/core/'))
      .filter((s) => entries[s.replace('@coconutpay/core', '.')] === undefined)
      .map((s) => `${rel(f)} → ${s}`));
    expect(unlisted).toEqual([]);
  });
});

/** Like {@link sources}, tests included: they may only use core's public entries too. */
function allSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (name === 'node_modules' || name === 'dist' || name === 'results' || name === 'profiles') continue;
    if (statSync(full).isDirectory()) out.push(...allSources(full));
    else if (/\.(ts|vue|mjs)$/.test(name)) out.push(full);
  }
  return out;
}
