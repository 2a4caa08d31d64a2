/**
 * Browser-test helpers for the accessibility and layout checks: an axe-core run
 * injected into the page, a screenshot saved as a CI artefact, and a measure of
 * tap targets that are too small on a phone.
 *
 * axe-core is loaded from node_modules and added to the page as an inline script
 * through the DevTools protocol, so the app's Content Security Policy (which only
 * allows its own scripts) does not have to be loosened for tests.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Page } from 'playwright-core';

/** Where screenshots go: test-results/ is the folder CI keeps as an artefact. */
export const SCREENSHOT_DIR = 'test-results/screenshots';

/** The impacts axe reports, from least to most severe. */
export const IMPACTS = ['minor', 'moderate', 'serious', 'critical'] as const;
export type Impact = (typeof IMPACTS)[number];

/** One rule that failed on a page, with a few of the elements it failed on. */
export interface AxeViolation {
  id: string;
  impact: Impact;
  help: string;
  helpUrl: string;
  /** CSS selectors of the first failing elements (at most five, to keep logs short). */
  targets: string[];
  /** How many elements failed the rule. */
  nodeCount: number;
}

/** What one axe run found. */
export interface AxeReport {
  url: string;
  violations: AxeViolation[];
  /** Failed rules per impact (a rule counts once however many elements fail it). */
  counts: Record<Impact, number>;
}

let axeSource: string | undefined;

function loadAxeSource(): string {
  if (axeSource === undefined) {
    const require = createRequire(import.meta.url);
    axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  return axeSource;
}

/**
 * Runs axe-core on the page as it is now, against WCAG 2.x A and AA and axe's
 * best practices.
 *
 * @example
 * const report = await runAxe(page);
 * expect(seriousOrWorse(report)).toEqual([]);
 */
export async function runAxe(page: Page, options: { exclude?: string[] } = {}): Promise<AxeReport> {
  // evaluate() runs through the DevTools protocol, which the page's CSP does not govern;
  // addScriptTag would insert an inline <script> that a strict CSP refuses.
  const present = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe === 'object');
  if (!present) await page.evaluate(loadAxeSource());
  const result = await page.evaluate(async (exclude) => {
    type AxeNode = { target: unknown[] };
    type AxeResult = { id: string; impact: string | null; help: string; helpUrl: string; nodes: AxeNode[] };
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeResult[] }> } }).axe;
    const context = exclude.length > 0 ? { exclude: exclude.map((selector) => [selector]) } : document;
    const { violations } = await axe.run(context, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? 'minor',
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.slice(0, 5).map((node) => node.target.map(String).join(' ')),
      nodeCount: v.nodes.length,
    }));
  }, options.exclude ?? []);
  const violations = result as AxeViolation[];
  const counts = Object.fromEntries(IMPACTS.map((impact) => [impact, 0])) as Record<Impact, number>;
  for (const violation of violations) counts[violation.impact] += 1;
  return { url: page.url(), violations, counts };
}

/** The violations a test must not accept: serious and critical ones. */
export function seriousOrWorse(report: AxeReport): AxeViolation[] {
  return report.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** One line per violation, for a readable assertion failure. */
export function describeViolations(violations: AxeViolation[]): string[] {
  return violations.map((v) => `${v.impact} ${v.id} (${v.nodeCount}×): ${v.help} — ${v.targets.join(' | ')}`);
}

/**
 * Saves a full-page screenshot as `test-results/screenshots/<name>-<viewport>.png`
 * and returns the path.
 *
 * @example
 * await saveScreenshot(page, 'cart', 'mobile'); // test-results/screenshots/cart-mobile.png
 */
export async function saveScreenshot(page: Page, name: string, viewport: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}-${viewport}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/** A control smaller than the tap-target minimum. */
export interface SmallTarget {
  /** A short description: tag, test id or text. */
  what: string;
  widthPx: number;
  heightPx: number;
}

/** The smallest tap target on a phone, in CSS pixels (WCAG 2.5.5, Apple and Material guidance). */
export const TAP_TARGET_MIN_PX = 44;

/**
 * Every visible button, link, summary and form control whose box is smaller than
 * `minPx` in either direction. Links inside running text are exempt (WCAG 2.5.5
 * "inline" exception), as are inputs hidden behind a custom look and the skip link
 * (off screen until focused).
 */
export async function smallTapTargets(page: Page, minPx = TAP_TARGET_MIN_PX): Promise<SmallTarget[]> {
  return page.evaluate((min) => {
    const selector = 'a[href], button, summary, select, input:not([type="hidden"]), textarea, [role="button"], label:has(> input[type="radio"]), label:has(> input[type="checkbox"])';
    const out: { what: string; widthPx: number; heightPx: number }[] = [];
    for (const element of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      if (element.closest('.skip-link')) continue;
      const style = getComputedStyle(element);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      // A radio or checkbox counts through its label, which is the real target.
      if (element instanceof HTMLInputElement && (element.type === 'radio' || element.type === 'checkbox') && element.closest('label')) continue;
      // A link inside a sentence is exempt: its size is the text's.
      if (element.tagName === 'A' && element.parentElement && ['P', 'LI', 'DD', 'TD', 'SPAN'].includes(element.parentElement.tagName)) {
        const parentText = element.parentElement.textContent?.trim() ?? '';
        const ownText = element.textContent?.trim() ?? '';
        if (parentText.length > ownText.length + 1 && style.display === 'inline') continue;
      }
      if (box.width + 0.5 < min || box.height + 0.5 < min) {
        const id = element.dataset.testid ? `[data-testid=${element.dataset.testid}]` : '';
        const text = (element.textContent ?? element.getAttribute('aria-label') ?? '').trim().slice(0, 30);
        out.push({ what: `${element.tagName.toLowerCase()}${id} "${text}"`, widthPx: Math.round(box.width), heightPx: Math.round(box.height) });
      }
    }
    return out;
  }, minPx);
}
