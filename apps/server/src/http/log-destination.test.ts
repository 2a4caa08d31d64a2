import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('logDestination', () => {
  it('has written a line when the call that logged it returns, even if the process is killed right after', () => {
    // SIGKILL leaves no chance to flush: only a line already written reaches the pipe.
    const script = `
      const { logDestination } = await import(${JSON.stringify(path.join(here, 'log-destination.ts'))});
      const destination = logDestination();
      for (let i = 0; i < 100; i++) destination.write('line ' + i + '\\n');
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout.split('\n').filter((l) => l.startsWith('line '))).toHaveLength(100);
  });
});
