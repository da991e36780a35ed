// Charts as inline SVG (no library: two kinds of chart, drawn in a few dozen lines, print and zoom sharp). Each
// is an image with a text title; the table beside it carries the same numbers for screen readers.
import { h, svg } from './ui.js';

export const COLOURS = { electronic: '#0b5cad', signed: '#1b7a3a', target: '#b3261e' };

const pct = (v) => `${Math.round(v * 100)}%`;

/** Per agency: its electronic-only and signed shares as bars, each against its target (a red tick). */
export function sharesChart(rows, title) {
  const label = 250; const width = 900; const bar = 12; const gap = 14; const top = 28;
  const plot = width - label - 60;
  const height = top + rows.length * (2 * bar + gap) + 24;
  const x = (share) => label + plot * Math.max(0, Math.min(1, share || 0));
  const parts = [svg('title', {}, title)];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(svg('line', { x1: x(t), x2: x(t), y1: top - 6, y2: height - 20, stroke: '#d5dae2' }),
      svg('text', { x: x(t), y: top - 10, 'text-anchor': 'middle', 'font-size': 12, fill: '#5a6372' }, pct(t)));
  }
  rows.forEach((r, i) => {
    const y = top + i * (2 * bar + gap);
    const name = r.name.length > 34 ? `${r.name.slice(0, 33)}…` : r.name;
    parts.push(svg('text', { x: label - 8, y: y + bar + 4, 'text-anchor': 'end', 'font-size': 13, fill: '#1d2330' }, name));
    const bars = [[r.electronic_only_share, r.target_electronic_only_share, COLOURS.electronic, 'gửi điện tử'], [r.signed_share, r.target_signed_share, COLOURS.signed, 'ký số']];
    bars.forEach(([share, target, colour, what], j) => {
      const by = y + j * bar;
      if (share === null || share === undefined) {
        parts.push(svg('text', { x: label + 4, y: by + bar - 2, 'font-size': 11, fill: '#5a6372' }, `chưa gửi văn bản (${what})`));
      } else {
        parts.push(svg('rect', { x: label, y: by, width: Math.max(1, x(share) - label), height: bar - 2, fill: colour, dataset: null },
          svg('title', {}, `${r.name}: ${what} ${pct(share)} (chỉ tiêu ${pct(target || 0)})`)));
        parts.push(svg('text', { x: x(share) + 4, y: by + bar - 3, 'font-size': 11, fill: '#1d2330' }, pct(share)));
      }
      if (target) parts.push(svg('line', { x1: x(target), x2: x(target), y1: by - 1, y2: by + bar, stroke: COLOURS.target, 'stroke-width': 3 }));
    });
  });
  return figure(svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'shares' }, parts), title,
    [['Tỷ lệ gửi hoàn toàn điện tử', COLOURS.electronic], ['Tỷ lệ ký số', COLOURS.signed], ['Chỉ tiêu', COLOURS.target]]);
}

/** Month by month: the province's shares as lines, the target dashed. */
export function trendChart(months, series, target, title) {
  const width = 900; const height = 300; const left = 50; const right = 20; const top = 20; const bottom = 40;
  const x = (i) => left + ((width - left - right) * i) / Math.max(1, months.length - 1);
  const y = (v) => top + (height - top - bottom) * (1 - v);
  const parts = [svg('title', {}, title)];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(svg('line', { x1: left, x2: width - right, y1: y(t), y2: y(t), stroke: '#d5dae2' }),
      svg('text', { x: left - 8, y: y(t) + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#5a6372' }, pct(t)));
  }
  months.forEach((m, i) => parts.push(svg('text', { x: x(i), y: height - bottom + 18, 'text-anchor': 'middle', 'font-size': 12, fill: '#5a6372' }, `T${Number(m.slice(5))}`)));
  if (target) parts.push(svg('line', { x1: left, x2: width - right, y1: y(target), y2: y(target), stroke: COLOURS.target, 'stroke-dasharray': '6 4', 'stroke-width': 2 }));
  for (const [values, colour, name] of series) {
    let path = '';
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      path += `${path && values[i - 1] !== null && values[i - 1] !== undefined ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      parts.push(svg('circle', { cx: x(i), cy: y(v), r: 4, fill: colour }, svg('title', {}, `${name} ${months[i]}: ${pct(v)}`)));
    });
    if (path) parts.push(svg('path', { d: path, fill: 'none', stroke: colour, 'stroke-width': 2.5 }));
  }
  return figure(svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'trend' }, parts), title,
    [['Tỷ lệ gửi hoàn toàn điện tử', COLOURS.electronic], ['Tỷ lệ ký số', COLOURS.signed], ['Chỉ tiêu gửi điện tử', COLOURS.target]]);
}

function figure(chart, title, legend) {
  return h('figure', { class: 'chart card' }, h('div', { class: 'legend', 'aria-hidden': 'true' },
    legend.map(([text, colour]) => h('span', { style: `--c:${colour}` }, text))), chart, h('figcaption', {}, title));
}
