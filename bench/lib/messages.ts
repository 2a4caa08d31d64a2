/** What the benchmark's processes tell each other (over Node's IPC channel). */
import type { LedgerGrowth } from './ledger-history.js';
import type { LatencySummary } from './stats.js';

/** Route of the HTTP ceiling (added by bench/server-process.ts only). */
export const ECHO_PATH = '/api/bench/echo';
/** Its twin without the session check (bench/server-process.ts only): the dual-token overhead is the difference. */
export const ECHO_PUBLIC_PATH = '/api/bench/echo-public';

/**
 * What one run drives: complete payments; groups of three signed round trips to the
 * do-nothing route (the HTTP ceiling); or single round trips to the do-nothing route,
 * signed or anonymous, for the dual-token overhead; or wallet top-ups (one signed POST
 * each), beside the ledger-size curve.
 */
export type Scenario = 'payments' | 'http' | 'echo-signed' | 'echo-anonymous' | 'top-ups';

export interface SetupRequest {
  type: 'setup';
  port: number;
  databaseUrl: string;
  /** The server's data folder: its verification code key opens the codes the bench types. */
  dataDir: string;
  sellers: number;
  productsPerSeller: number;
  buyers: number;
  topUpWon: number;
}

export interface RunRequest {
  type: 'run';
  scenario: Scenario;
  concurrency: number;
  warmupMs: number;
  measureMs: number;
}

/** The first payment of every certificate asks for the code (default policy): its cost, measured. */
export interface CodePathResult {
  payments: number;
  request_with_code: LatencySummary;
  code_image: LatencySummary;
  authorize_with_code: LatencySummary;
  total_with_code: LatencySummary;
}

export interface SetupResult {
  type: 'setup-done';
  setup_s: number;
  buyers: number;
  sellers: number;
  products: number;
  codePath: CodePathResult;
  /** Body sizes of the three POSTs of one payment (order, sealed request, authorization). */
  bodyBytes: [number, number, number];
}

export interface RunResult {
  type: 'result';
  scenario: Scenario;
  concurrency: number;
  measure_s: number;
  /** Complete payments (or, for the HTTP ceiling, groups of three round trips; for the echo runs, requests) per second. */
  per_s: number;
  completed: number;
  errors: number;
  errorSamples: string[];
  total: LatencySummary;
  steps: Record<string, LatencySummary>;
  /** CPU the load generator used in the window, as a share of one core. */
  load_cpu_share: number;
}

/** Grow the ledger to `targetEntries` journal entries with history (bench/lib/ledger-history.ts), between runs. */
export interface HistoryRequest {
  type: 'history';
  databaseUrl: string;
  targetEntries: number;
}

export type HistoryResult = { type: 'history-done' } & LedgerGrowth;

export type LoadMessage = SetupResult | RunResult | HistoryResult | { type: 'measure-start' } | { type: 'measure-end' } | { type: 'failed'; error: string };
export type LoadCommand = SetupRequest | RunRequest | HistoryRequest | { type: 'stop' };
