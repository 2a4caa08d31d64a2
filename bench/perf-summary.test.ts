/**
 * The perf summary charges each sample to one kind by its stack; the fixture is a few
 * samples as `perf script -F comm,tid,ip,sym,dso` prints them (shortened stacks of a real
 * recording of the server).
 */
import { describe, expect, it } from 'vitest';
import { kindOf, parsePerfScript, summarise } from './perf-summary.js';

const RECORDED = `node  5669 
	ffffffff8173720f __x64_sys_fsync ([kernel.kallsyms])
	           fec4a fsync (/usr/lib/x86_64-linux-gnu/libc.so.6)
	           d7eb5 pagerWalFrames (/work/main/node_modules/better-sqlite3/build/Release/better_sqlite3.node)
	    7feb16478fae JS:*executeQuery file:///work/main/apps/server/src/db/io-failure-guard.ts:1:460 (/tmp/perf-5669.map)

node  5669 
	          10c2a1 __libc_pwrite (/usr/lib/x86_64-linux-gnu/libc.so.6)
	           d7a10 walWriteOneFrame.isra.0 (/work/main/node_modules/better-sqlite3/build/Release/better_sqlite3.node)

node  5669 
	          2d1f00 Data::GetFlatRowJS (/work/main/node_modules/better-sqlite3/build/Release/better_sqlite3.node)

node  5669 
	         1d0a2c0 __ecp_nistz256_mul_montx (/usr/bin/node)
	    7feb1650a1c0 JS:*verify node:internal/crypto/sig:150:16 (/tmp/perf-5669.map)

node  5669 
	    7feb1650b3a0 JS:*transformRow file:///work/main/node_modules/kysely/dist/esm/plugin/camel-case/camel-case-plugin.js:60:5 (/tmp/perf-5669.map)
	    7feb1646dc71 JS:*executeQuery file:///work/main/apps/server/src/db/io-failure-guard.ts:1:460 (/tmp/perf-5669.map)

node  5669 
	    7feb1650c000 JS:* file:///work/main/apps/server/src/services/payment-auth.ts:1:16350 (/tmp/perf-5669.map)

node  5669 
	    7feb1650c100 JS:~processTicksAndRejections node:internal/process/task_queues:67:35 (/tmp/perf-5669.map)

node  5669 
	          a1b2c3 _int_malloc (/usr/lib/x86_64-linux-gnu/libc.so.6)

V8 DefaultWorke  5672 
	         1a2b3c4 v8::internal::Scavenger::ScavengeObject (/usr/bin/node)

node  5699 
	          10c2a1 __libc_pwrite (/usr/lib/x86_64-linux-gnu/libc.so.6)
	           e1000 walCheckpoint (/work/main/node_modules/better-sqlite3/build/Release/better_sqlite3.node)
`;

describe('perf summary', () => {
  const samples = parsePerfScript(RECORDED);

  it('reads every sample with its thread and frames', () => {
    expect(samples).toHaveLength(10);
    expect(samples[0]!.thread).toBe('node 5669');
    expect(samples[0]!.frames[0]).toBe('__x64_sys_fsync ([kernel.kallsyms])');
    expect(samples[8]!.thread).toBe('V8 DefaultWorke 5672');
  });

  it('charges each sample to the kind its whole stack says', () => {
    expect(samples.map((s) => kindOf(s.frames))).toEqual([
      'SQLite: sync',
      'SQLite: WAL writes',
      'SQLite: statements and commit (not I/O)',
      'OpenSSL',
      'js: kysely',
      'js: apps/server/src/services',
      'js: node (process)',
      'malloc',
      'garbage collection',
      'SQLite: checkpoint',
    ]);
  });

  it('charges a CommonJS module’s frame, named by a plain path, to its own package', () => {
    const [sample] = parsePerfScript(`node  5669 
\t    7fec586834ab JS:*toPacket /work/main/node_modules/mysql2/lib/packets/execute.js:101:11 (/tmp/perf-14035.map)
\t    7feb1646dc71 JS:*executeQuery file:///work/main/node_modules/kysely/dist/esm/dialect/mysql/mysql-driver.js:104:5 (/tmp/perf-14035.map)
`);
    expect(kindOf(sample!.frames)).toBe('js: mysql2');
  });

  it('gives shares of all samples, the main thread apart from the others', () => {
    const summary = summarise(samples);
    expect(summary.samples).toBe(10);
    expect(summary.threads[0]).toEqual({ thread: 'node 5669 (main)', share: 0.8 });
    expect(summary.kinds.find((k) => k.kind === 'other threads: SQLite: checkpoint')?.share).toBeCloseTo(0.1);
    expect(summary.kinds.find((k) => k.kind === 'SQLite: sync')?.share).toBeCloseTo(0.1);
    expect(summary.kinds.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1);
  });
});
