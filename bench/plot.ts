/**
 * A self-contained SVG of the bench results (bench/results/latest.svg): one panel per series
 * that has a shape worth seeing. Plain SVG so it opens in any browser and diffs as text.
 */
export type Series = { name: string; points: [number, number][] };
export type Panel = {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  series: Series[];
};

const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function plotSvg(panels: Panel[], caption: string): string {
  const w = 460;
  const h = 300;
  const body = panels.map(
    (p, i) =>
      `<g transform="translate(${(i % 2) * w},${Math.floor(i / 2) * h + 30})">${panel(p, w, h)}</g>`,
  );
  const rows = Math.ceil(panels.length / 2);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * w}" height="${rows * h + 40}" font-family="sans-serif" font-size="11">
<text x="10" y="18" font-size="13">${esc(caption)}</text>
${body.join('\n')}
</svg>
`;
}

function panel(p: Panel, w: number, h: number): string {
  const m = { l: 60, r: 110, t: 20, b: 40 };
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = p.series.flatMap((s) => s.points.map(([, y]) => y));
  const fx = (x: number): number => (p.logX ? Math.log2(Math.max(1, x)) : x);
  const [x0, x1] = [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))];
  const y1 = Math.max(1, ...ys) * 1.1;
  const sx = (x: number): number =>
    m.l + ((fx(x) - x0) / Math.max(1e-9, x1 - x0)) * (w - m.l - m.r);
  const sy = (y: number): number => h - m.b - (y / y1) * (h - m.t - m.b);
  const ticksY = [0, 0.25, 0.5, 0.75, 1].map((f) => f * y1);
  const ticksX = [...new Set(xs)].sort((a, b) => a - b);
  const parts = [
    `<text x="${m.l}" y="12" font-weight="bold">${esc(p.title)}</text>`,
    `<line x1="${m.l}" y1="${h - m.b}" x2="${w - m.r}" y2="${h - m.b}" stroke="#000"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${h - m.b}" stroke="#000"/>`,
    ...ticksY.map(
      (y) =>
        `<text x="${m.l - 4}" y="${sy(y) + 4}" text-anchor="end">${Math.round(y)}</text><line x1="${m.l}" x2="${w - m.r}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`,
    ),
    ...ticksX.map((x) => `<text x="${sx(x)}" y="${h - m.b + 14}" text-anchor="middle">${x}</text>`),
    `<text x="${(m.l + w - m.r) / 2}" y="${h - 8}" text-anchor="middle">${esc(p.xLabel)}</text>`,
    `<text transform="translate(14,${(m.t + h - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`,
  ];
  p.series.forEach((s, i) => {
    const color = colors[i % colors.length]!;
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`,
    );
    for (const [x, y] of s.points)
      parts.push(
        `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"><title>${esc(s.name)}: ${x} → ${y}</title></circle>`,
      );
    parts.push(
      `<text x="${w - m.r + 8}" y="${m.t + 14 * i + 10}" fill="${color}">${esc(s.name)}</text>`,
    );
  });
  return parts.join('\n');
}
