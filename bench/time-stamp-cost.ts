/**
 * The cost of one time-stamp token on the payment path: `TimeStampAuthority.stampSignature`
 * (SHA-256 of the signature value, TSTInfo, signed attributes, one ECDSA P-256
 * signature, the token's DER), one call at a time on one core. Prints microseconds
 * per token, wall clock and process CPU, and the token's size.
 *
 *   npx tsx --conditions=source bench/time-stamp-cost.ts [--tokens=N]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startTestApp } from '../apps/server/test/helpers.js';
import { round } from './lib/stats.js';

const TOKENS_DEFAULT = 20_000;
const WARM_UP_TOKENS = 2_000;

async function main(): Promise<void> {
  const argument = process.argv.find((a) => a.startsWith('--tokens='));
  const tokens = argument ? Number(argument.slice('--tokens='.length)) : TOKENS_DEFAULT;
  if (!Number.isInteger(tokens) || tokens < 1) throw new Error('--tokens must be a positive integer');
  const t = await startTestApp();
  try {
    const { tsa } = t.app.internals;
    // A CMS ECDSA P-256 signature value is 70 to 72 bytes of DER.
    const signatureValue = randomBytes(71);
    for (let i = 0; i < WARM_UP_TOKENS; i++) await tsa.stampSignature(signatureValue);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let bytes = 0;
    for (let i = 0; i < tokens; i++) bytes = (await tsa.stampSignature(signatureValue)).length;
    const wallUs = (performance.now() - started) * 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const result = {
      tokens,
      us_per_token_wall: round(wallUs / tokens, 1),
      us_per_token_cpu: round((cpu.user + cpu.system) / tokens, 1),
      token_bytes: bytes,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await t.close();
  }
}

await main();
