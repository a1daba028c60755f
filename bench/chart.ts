/**
 * A hand-written SVG with two panels: throughput over time (messages confirmed to producers and
 * handled by consumers, per timeline bin) and the latency CDF (log-scale latency axis).
 */
import type { Timeline } from './workload.js';

export interface ThroughputSeries {
  label: string;
  /** Confirmed (producer) or handled (consumer) per bin, aligned on the run's first send. */
  timelines: Timeline[];
  originNs: number;
  dashed: boolean;
}

export interface CdfSeries {
  label: string;
  points: [number, number][];
}

const WIDTH = 1100;
const HEIGHT = 420;
const PANEL = { top: 40, bottom: 60, left: 70, width: 420, gap: 110 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Sums several timelines into msg/s per bin, on a common origin. */
export function ratePoints(series: ThroughputSeries): [number, number][] {
  const binMs = series.timelines[0]?.binMs ?? 100;
  const totals: number[] = [];
  for (const t of series.timelines) {
    const offset = Math.round((t.startNs - series.originNs) / 1e6 / binMs);
    t.counts.forEach((count, i) => {
      const bin = Math.max(0, offset + i);
      totals[bin] = (totals[bin] ?? 0) + count;
    });
  }
  return Array.from(totals, (count, i) => [((i + 1) * binMs) / 1000, ((count ?? 0) * 1000) / binMs]);
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= value)!;
}

function formatTick(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  return String(Math.round(value * 1000) / 1000);
}

function polyline(points: [number, number][], color: string, dashed: boolean): string {
  const coords = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polyline fill="none" stroke="${color}" stroke-width="1.6"${dashed ? ' stroke-dasharray="5,3"' : ''} points="${coords}"/>`;
}

function legend(x: number, y: number, items: { label: string; color: string; dashed: boolean }[]): string {
  return items
    .map((item, i) => {
      const ly = y + i * 16;
      return `<line x1="${x}" y1="${ly}" x2="${x + 22}" y2="${ly}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="5,3"' : ''}/><text x="${x + 28}" y="${ly + 4}" font-size="11">${escapeXml(item.label)}</text>`;
    })
    .join('\n');
}

export function renderChart(title: string, throughput: ThroughputSeries[], cdfs: CdfSeries[]): string {
  const plotH = HEIGHT - PANEL.top - PANEL.bottom;
  const parts: string[] = [];
  parts.push(`<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);

  // Panel 1: throughput over time.
  const x0 = PANEL.left;
  const rates = throughput.map(ratePoints);
  const maxT = niceMax(Math.max(1, ...rates.flat().map(([t]) => t)));
  const maxR = niceMax(Math.max(1, ...rates.flat().map(([, r]) => r)));
  const sx = (t: number) => x0 + (t / maxT) * PANEL.width;
  const sy = (r: number) => PANEL.top + plotH - (r / maxR) * plotH;
  parts.push(axes(x0, PANEL.top, PANEL.width, plotH, 'time since first send (s)', 'msg/s', maxT, maxR, 'linear'));
  const items: { label: string; color: string; dashed: boolean }[] = [];
  throughput.forEach((series, i) => {
    const color = COLORS[Math.floor(i / 2) % COLORS.length]!;
    parts.push(polyline(rates[i]!.map(([t, r]) => [sx(t), sy(r)]), color, series.dashed));
    items.push({ label: series.label, color, dashed: series.dashed });
  });
  parts.push(legend(x0 + PANEL.width - 200, PANEL.top + 12, items));

  // Panel 2: latency CDF, log-scale x.
  const x1 = PANEL.left + PANEL.width + PANEL.gap;
  const all = cdfs.flatMap((c) => c.points.map(([ms]) => ms)).filter((ms) => ms > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(1e-3, Math.min(...all, 1))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 1)));
  const lx = (ms: number) => x1 + ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PANEL.width;
  const ly = (f: number) => PANEL.top + plotH - f * plotH;
  parts.push(axes(x1, PANEL.top, PANEL.width, plotH, 'latency (ms, log scale)', 'fraction of messages', hi, 1, 'log', lo));
  const cdfItems: { label: string; color: string; dashed: boolean }[] = [];
  cdfs.forEach((series, i) => {
    const color = COLORS[i % COLORS.length]!;
    parts.push(polyline(series.points.map(([ms, f]) => [lx(ms), ly(f)]), color, false));
    cdfItems.push({ label: series.label, color, dashed: false });
  });
  parts.push(legend(x1 + 10, PANEL.top + 12, cdfItems));

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}

function axes(x: number, y: number, w: number, h: number, xLabel: string, yLabel: string, xMax: number, yMax: number, scale: 'linear' | 'log', xMin = 0): string {
  const out: string[] = [];
  out.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
  const xTicks: [number, number][] = [];
  if (scale === 'linear') {
    for (let i = 0; i <= 5; i++) xTicks.push([x + (i / 5) * w, (i / 5) * xMax]);
  } else {
    const decades = Math.round(Math.log10(xMax) - Math.log10(xMin));
    for (let i = 0; i <= decades; i++) xTicks.push([x + (i / decades) * w, xMin * 10 ** i]);
  }
  for (const [px, value] of xTicks) {
    out.push(`<line x1="${px}" y1="${y + h}" x2="${px}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${px}" y="${y + h + 16}" text-anchor="middle" font-size="11">${formatTick(value)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const py = y + h - (i / 5) * h;
    out.push(`<line x1="${x}" y1="${py}" x2="${x + w}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text x="${x - 6}" y="${py + 4}" text-anchor="end" font-size="11">${formatTick((i / 5) * yMax)}</text>`);
  }
  out.push(`<text x="${x + w / 2}" y="${y + h + 36}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
  out.push(`<text x="${x - 52}" y="${y + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x - 52} ${y + h / 2})">${escapeXml(yLabel)}</text>`);
  return out.join('\n');
}
