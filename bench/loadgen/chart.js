'use strict';

// A dependency-free SVG horizontal grouped bar chart for the benchmark
// results: one group per matrix cell, one bar per server, a dashed line at
// the reference value (1.0 = ws + bufferutil + utf-8-validate).

/**
 * Escapes text for SVG.
 *
 * @param {string} text Text
 * @return {string} Escaped text
 */
function escapeXml(text) {
  return String(text).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A round step for about `targetTicks` grid lines up to `max`.
 *
 * @param {number} max Largest value
 * @param {number} targetTicks Wanted number of ticks
 * @return {number} Step
 */
function niceStep(max, targetTicks) {
  const raw = max / targetTicks;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (raw <= factor * power) return factor * power;
  }
  return 10 * power;
}

/**
 * Renders the chart.
 *
 * @param {Object} spec
 * @param {string} spec.title Title line
 * @param {string} spec.subtitle Second line (machine, date)
 * @param {string} spec.axisLabel Label under the value axis
 * @param {{id: string, label: string, color: string}[]} spec.series Servers
 *     (a series without a color is drawn dark grey)
 * @param {{label: string, bars: {series: string, value: number, text: string}[]}[]} spec.groups
 *     Cells and their bars (value NaN = no bar)
 * @param {number} [spec.reference=1] Where the dashed reference line goes
 * @return {string} SVG document
 */
function barChartSvg({
  title,
  subtitle,
  axisLabel,
  series,
  groups,
  reference = 1
}) {
  series = series.map((s) => ({ ...s, color: s.color || '#495057' }));
  const width = 980;
  const left = 250;
  const right = 150;
  const plotWidth = width - left - right;
  const barHeight = 13;
  const barGap = 2;
  const groupGap = 14;
  // Legend entries flow left to right, wrapping; ~6.5 px per character.
  const legendItems = [];
  let legendX = 12;
  let legendY = 58;
  for (const s of series) {
    const itemWidth = 30 + s.label.length * 6.5;
    if (legendX + itemWidth > width - 12 && legendX > 12) {
      legendX = 12;
      legendY += 18;
    }
    legendItems.push({ ...s, x: legendX, y: legendY });
    legendX += itemWidth;
  }
  const top = legendY + 22;
  const values = groups
    .flatMap((g) => g.bars.map((b) => b.value))
    .filter(Number.isFinite);
  const max = Math.max(reference * 1.2, ...values) * 1.05;
  const step = niceStep(max, 6);
  const axisMax = Math.ceil(max / step) * step;
  const x = (value) => left + (value / axisMax) * plotWidth;
  const color = Object.fromEntries(series.map((s) => [s.id, s.color]));

  const parts = [];
  let y = top;
  for (const group of groups) {
    const groupHeight = group.bars.length * (barHeight + barGap) - barGap;
    parts.push(
      `<text x="${left - 8}" y="${y + groupHeight / 2 + 4}" text-anchor="end" class="group">${escapeXml(group.label)}</text>`
    );
    for (const bar of group.bars) {
      if (Number.isFinite(bar.value)) {
        const barWidth = Math.max(1, x(bar.value) - left);
        parts.push(
          `<rect x="${left}" y="${y}" width="${barWidth.toFixed(1)}" height="${barHeight}" fill="${color[bar.series]}"/>`,
          `<text x="${(left + barWidth + 4).toFixed(1)}" y="${y + barHeight - 3}" class="value">${escapeXml(bar.text)}</text>`
        );
      } else {
        parts.push(
          `<text x="${left + 4}" y="${y + barHeight - 3}" class="value">${escapeXml(bar.text)}</text>`
        );
      }
      y += barHeight + barGap;
    }
    y += groupGap;
  }
  const bottom = y - groupGap + 6;
  const grid = [];
  for (let tick = 0; tick <= axisMax + 1e-9; tick += step) {
    const tx = x(tick).toFixed(1);
    grid.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${bottom}" class="grid"/>`,
      `<text x="${tx}" y="${bottom + 14}" text-anchor="middle" class="tick">${Number(tick.toPrecision(3))}</text>`
    );
  }
  const rx = x(reference).toFixed(1);
  grid.push(
    `<line x1="${rx}" y1="${top - 6}" x2="${rx}" y2="${bottom}" class="reference"/>`
  );
  const legend = legendItems.map(
    (s) =>
      `<rect x="${s.x}" y="${s.y - 10}" width="12" height="12" fill="${s.color}"/>` +
      `<text x="${s.x + 17}" y="${s.y}" class="legend">${escapeXml(s.label)}</text>`
  );
  const height = bottom + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<style>text{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;fill:#212529}' +
      '.title{font-size:16px;font-weight:600}.subtitle{font-size:11px;fill:#495057}' +
      '.group{font-size:11px}.value{font-size:10px;fill:#343a40;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.tick{font-size:10px;fill:#495057}' +
      '.legend{font-size:11px}.axis{font-size:11px;fill:#495057}' +
      '.grid{stroke:#dee2e6;stroke-width:1}.reference{stroke:#c92a2a;stroke-width:1.5;stroke-dasharray:5 3}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" class="title">${escapeXml(title)}</text>`,
    `<text x="12" y="38" class="subtitle">${escapeXml(subtitle)}</text>`,
    ...legend,
    ...grid,
    ...parts,
    `<text x="${left + plotWidth / 2}" y="${bottom + 30}" text-anchor="middle" class="axis">${escapeXml(axisLabel)}</text>`,
    '</svg>',
    ''
  ].join('\n');
}

module.exports = { barChartSvg, escapeXml };
