/** A line of a chart: points in x order; NaN values are left out. */
export interface Series {
  name: string;
  points: readonly { x: number; y: number }[];
  dashed?: boolean;
}

export interface Panel {
  yLabel: string;
  series: readonly Series[];
  /** Horizontal lines such as a target, labelled. */
  marks?: readonly { y: number; label: string }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 720;
const PANEL_H = 240;
const M = { left: 64, right: 180, top: 36, bottom: 40 };

/** 1, 2 or 5 times a power of ten, at least v: an axis end a reader can read. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(3).replace(/\.?0+$/, ''));

/** Stacked panels sharing one x axis (offered rate), as a stand-alone SVG document. */
export function renderChart(title: string, xLabel: string, panels: readonly Panel[]): string {
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.x))).filter(Number.isFinite);
  const xMax = niceCeil(Math.max(1, ...xs));
  const height = M.top + panels.length * (PANEL_H + M.bottom) + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  const plotW = W - M.left - M.right;
  panels.forEach((panel, pi) => {
    const top = M.top + pi * (PANEL_H + M.bottom);
    const ys = [...panel.series.flatMap((s) => s.points.map((pt) => pt.y)), ...(panel.marks ?? []).map((m) => m.y)].filter(
      Number.isFinite,
    );
    const yMax = niceCeil(Math.max(0, ...ys));
    const px = (x: number) => M.left + (x / xMax) * plotW;
    const py = (y: number) => top + PANEL_H - (Math.min(y, yMax) / yMax) * PANEL_H;
    out.push(`<g>`);
    for (let i = 0; i <= 4; i++) {
      const yv = (yMax * i) / 4;
      const xv = (xMax * i) / 4;
      out.push(
        `<line x1="${M.left}" x2="${M.left + plotW}" y1="${py(yv)}" y2="${py(yv)}" stroke="#ddd"/>`,
        `<text x="${M.left - 6}" y="${py(yv) + 4}" text-anchor="end">${fmt(yv)}</text>`,
        `<text x="${px(xv)}" y="${top + PANEL_H + 16}" text-anchor="middle">${fmt(xv)}</text>`,
      );
    }
    out.push(
      `<rect x="${M.left}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#888"/>`,
      `<text transform="translate(16 ${top + PANEL_H / 2}) rotate(-90)" text-anchor="middle">${esc(panel.yLabel)}</text>`,
      `<text x="${M.left + plotW / 2}" y="${top + PANEL_H + 32}" text-anchor="middle">${esc(xLabel)}</text>`,
    );
    for (const mark of panel.marks ?? []) {
      out.push(
        `<line x1="${M.left}" x2="${M.left + plotW}" y1="${py(mark.y)}" y2="${py(mark.y)}" stroke="#999" stroke-dasharray="2 3"/>`,
        `<text x="${M.left + plotW - 4}" y="${py(mark.y) - 4}" text-anchor="end" fill="#666">${esc(mark.label)}</text>`,
      );
    }
    panel.series.forEach((s, si) => {
      const color = COLORS[si % COLORS.length]!;
      const pts = s.points.filter((pt) => Number.isFinite(pt.x) && Number.isFinite(pt.y));
      if (pts.length > 0) {
        const d = pts.map((pt, i) => `${i === 0 ? 'M' : 'L'}${px(pt.x).toFixed(1)},${py(pt.y).toFixed(1)}`).join(' ');
        out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
        for (const pt of pts) out.push(`<circle cx="${px(pt.x).toFixed(1)}" cy="${py(pt.y).toFixed(1)}" r="3" fill="${color}"/>`);
      }
      const ly = top + 12 + si * 16;
      out.push(
        `<line x1="${W - M.right + 12}" x2="${W - M.right + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
        `<text x="${W - M.right + 36}" y="${ly}">${esc(s.name)}</text>`,
      );
    });
    out.push(`</g>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
