/**
 * A line chart as a standalone SVG file, written by hand: the report's one chart
 * (payment p50/p99 against ledger size, log x axis, one colour per engine) needs no
 * plotting library. Deterministic for identical input, so a re-render changes no byte.
 */

/** One engine's line: its points in any order. */
export interface ChartSeries {
  name: string;
  points: { x: number; p50: number; p99: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 24, top: 48, bottom: 64 };
/** The highest point sits at about 70 % of the plot's height. */
const Y_HEADROOM = 1.45;
/** Colour-blind-safe (Okabe–Ito), one per series in order. */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];
const SUPERSCRIPT: Record<string, string> = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** 10 to the power `n`, written as 10ⁿ. */
function powerOfTen(n: number): string {
  return `10${String(n).split('').map((c) => SUPERSCRIPT[c] ?? c).join('')}`;
}

/** A round step for about `ticks` ticks from 0 to `max`: 1, 2 or 5 times a power of ten. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return step;
}

const fixed = (v: number) => (Math.round(v * 10) / 10).toString();

/**
 * The SVG text of a chart of p50 (dashed) and p99 (solid) in milliseconds against `x`
 * on a log axis.
 *
 * @example
 * writeFileSync('chart.svg', latencyChart([{ name: 'SQLite', points: [{ x: 1e4, p50: 20, p99: 45 }] }], { title: 'Payment latency', xLabel: 'journal entries', yLabel: 'ms' }));
 */
export function latencyChart(series: ChartSeries[], options: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new RangeError('a chart needs at least one point');
  if (all.some((p) => !(p.x > 0) || !Number.isFinite(p.p50) || !Number.isFinite(p.p99))) throw new RangeError('points need x > 0 and finite latencies');
  const minPower = Math.floor(Math.log10(Math.min(...all.map((p) => p.x))));
  const maxPower = Math.max(minPower + 1, Math.ceil(Math.log10(Math.max(...all.map((p) => p.x)))));
  // Headroom above the highest point keeps the lines clear of the legend in the top corner.
  const yTop = Math.max(1, ...all.map((p) => p.p99)) * Y_HEADROOM;
  const yStep = niceStep(yTop, 5);
  const yMax = yStep * Math.ceil(yTop / yStep);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xOf = (x: number) => MARGIN.left + ((Math.log10(x) - minPower) / (maxPower - minPower)) * plotWidth;
  const yOf = (y: number) => MARGIN.top + plotHeight - (y / yMax) * plotHeight;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="13">`);
  out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${escapeXml(options.title)}</text>`);

  // Grid and axes.
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    out.push(`<line x1="${MARGIN.left}" y1="${fixed(yOf(y))}" x2="${WIDTH - MARGIN.right}" y2="${fixed(yOf(y))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${fixed(yOf(y) + 4)}" text-anchor="end" fill="#444">${fixed(y)}</text>`);
  }
  for (let p = minPower; p <= maxPower; p++) {
    out.push(`<line x1="${fixed(xOf(10 ** p))}" y1="${MARGIN.top}" x2="${fixed(xOf(10 ** p))}" y2="${MARGIN.top + plotHeight}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${fixed(xOf(10 ** p))}" y="${MARGIN.top + plotHeight + 20}" text-anchor="middle" fill="#444">${powerOfTen(p)}</text>`);
    // Minor ticks at 2…9 × 10^p, as log paper has them.
    if (p < maxPower) for (let m = 2; m <= 9; m++) out.push(`<line x1="${fixed(xOf(m * 10 ** p))}" y1="${MARGIN.top + plotHeight}" x2="${fixed(xOf(m * 10 ** p))}" y2="${MARGIN.top + plotHeight + 4}" stroke="#888"/>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 18}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);

  // Lines: p99 solid, p50 dashed, each point marked.
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const points = [...s.points].sort((a, b) => a.x - b.x);
    for (const [key, dash] of [['p99', ''], ['p50', ' stroke-dasharray="6 4"']] as const) {
      const d = points.map((p, j) => `${j === 0 ? 'M' : 'L'}${fixed(xOf(p.x))} ${fixed(yOf(p[key]))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
      for (const p of points) out.push(`<circle cx="${fixed(xOf(p.x))}" cy="${fixed(yOf(p[key]))}" r="3.5" fill="${key === 'p99' ? colour : '#ffffff'}" stroke="${colour}" stroke-width="1.5"><title>${escapeXml(`${s.name} ${key} at ${p.x}: ${p[key]} ms`)}</title></circle>`);
    }
  });

  // Legend: one row per series, then what solid and dashed mean.
  const legendX = MARGIN.left + 12;
  let legendY = MARGIN.top + 18;
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    out.push(`<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 24}" y2="${legendY - 4}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${legendX + 32}" y="${legendY}">${escapeXml(s.name)}</text>`);
    legendY += 18;
  });
  out.push(`<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 24}" y2="${legendY - 4}" stroke="#444" stroke-width="2"/>`);
  out.push(`<text x="${legendX + 32}" y="${legendY}" fill="#444">p99</text>`);
  out.push(`<line x1="${legendX + 70}" y1="${legendY - 4}" x2="${legendX + 94}" y2="${legendY - 4}" stroke="#444" stroke-width="2" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${legendX + 102}" y="${legendY}" fill="#444">p50</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
