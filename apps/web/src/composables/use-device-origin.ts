/**
 * "From where" in the certificate history and the pending requests: the IP
 * address the server saw and a short description of the browser, made from its
 * User-Agent text.
 */
import { useI18n } from 'vue-i18n';

/** Browser and system named by a User-Agent text; undefined parts were not recognised. */
export interface AgentSummary {
  browser?: string;
  system?: string;
}

// Order matters: Edge and Samsung Internet also say "Chrome", Chrome also says "Safari".
const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bWhale\//, 'Whale'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\b(HeadlessChrome|Chrome|Chromium|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];
const SYSTEMS: readonly [RegExp, string][] = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bWindows\b/, 'Windows'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];
/** Longest User-Agent text looked at; the server keeps 200 characters. */
const AGENT_LENGTH_MAX = 512;

/**
 * Names the browser and system of a User-Agent text.
 *
 * @example
 * summarizeUserAgent('Mozilla/5.0 (Linux; Android 10; K) … Chrome/126.0 Mobile Safari/537.36')
 * // { browser: 'Chrome', system: 'Android' }
 */
export function summarizeUserAgent(agent: string | null | undefined): AgentSummary {
  if (!agent) return {};
  const text = agent.slice(0, AGENT_LENGTH_MAX);
  const browser = BROWSERS.find(([pattern]) => pattern.test(text))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(text))?.[1];
  return { ...(browser ? { browser } : {}), ...(system ? { system } : {}) };
}

/**
 * Returns a formatter of (IP, User-Agent) as one short line in the current
 * language, e.g. `Chrome · Android · 203.0.113.7`.
 */
export function useDeviceOrigin(): (ip: string | null, agent: string | null) => string {
  const { t } = useI18n();
  return (ip, agent) => {
    if (!ip && !agent) return t('certificates.origin.unknown');
    const summary = summarizeUserAgent(agent);
    const parts = [summary.browser ?? t('certificates.origin.unknownBrowser'), summary.system ?? t('certificates.origin.unknownSystem')];
    if (ip) parts.push(ip);
    return parts.join(' · ');
  };
}
