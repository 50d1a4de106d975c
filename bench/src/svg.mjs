// A small SVG line chart (no library): numeric or categorical x, linear or log y, a legend.
const width = 720;
const height = 400;
const margin = { left: 70, right: 20, top: 40, bottom: 90 };

const escapeXml = (text) =>
  String(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

function niceTicks(max, count = 5) {
  if (max <= 0) return [0, 1];
  const step0 = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((k) => k * magnitude).find((s) => s >= step0) ?? step0;
  const ticks = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

/** { title, x_label, y_label, series: [{ name, points: [[x, y]], color, dashed?, square? }], x_categories?, x_max?, y_log? } */
export function lineChart(options) {
  const plot_w = width - margin.left - margin.right;
  const plot_h = height - margin.top - margin.bottom;
  const all = options.series.flatMap((s) => s.points).filter(([, y]) => y !== null && Number.isFinite(y));
  const categorical = options.x_categories !== undefined;
  const x_max = categorical
    ? Math.max(1, options.x_categories.length - 1)
    : (options.x_max ?? Math.max(1, ...all.map(([x]) => x)));
  const x_ticks = categorical ? options.x_categories.map((_, i) => i) : niceTicks(x_max);
  const x_top = categorical ? x_max : Math.max(x_max, x_ticks.at(-1) ?? x_max);
  const x_of = (x) =>
    margin.left + (categorical ? (plot_w * (x + 0.25)) / (x_top + 0.5) : (plot_w * x) / x_top);
  let y_of;
  let y_ticks;
  if (options.y_log) {
    const positive = all.map(([, y]) => y).filter((y) => y > 0);
    const lo = 10 ** Math.floor(Math.log10(Math.min(...positive, 1)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...positive, 10)));
    y_ticks = [];
    for (let v = lo; v <= hi; v *= 10) y_ticks.push(v);
    y_of = (y) => margin.top + plot_h - (plot_h * Math.log10(Math.max(y, lo) / lo)) / Math.log10(hi / lo);
  } else {
    y_ticks = niceTicks(Math.max(1, ...all.map(([, y]) => y)) * 1.05);
    const y_top = y_ticks.at(-1);
    y_of = (y) => margin.top + plot_h - (plot_h * y) / y_top;
  }
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
  );
  for (const t of y_ticks) {
    const y = y_of(t);
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${t.toLocaleString("en-US")}</text>`,
    );
  }
  for (const t of x_ticks) {
    const x = x_of(t);
    const label = categorical ? options.x_categories[t] : t.toLocaleString("en-US");
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plot_h}" stroke="#f4f4f4"/>`);
    parts.push(
      `<text x="${x}" y="${margin.top + plot_h + 16}" text-anchor="middle">${escapeXml(label)}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plot_w}" height="${plot_h}" fill="none" stroke="#444"/>`,
  );
  parts.push(
    `<text x="${margin.left + plot_w / 2}" y="${margin.top + plot_h + 36}" text-anchor="middle">${escapeXml(options.x_label)}</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${margin.top + plot_h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.y_label)}</text>`,
  );
  options.series.forEach((s) => {
    const points = s.points.filter(([, y]) => y !== null && Number.isFinite(y));
    if (points.length === 0) return;
    const path = points.map(([x, y]) => `${x_of(x).toFixed(1)},${y_of(y).toFixed(1)}`).join(" ");
    if (points.length > 1) {
      parts.push(
        `<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
      );
    }
    if (!s.dashed) {
      for (const [x, y] of points) {
        parts.push(
          s.square
            ? `<rect x="${x_of(x) - 5}" y="${y_of(y) - 5}" width="10" height="10" fill="${s.color}"/>`
            : `<circle cx="${x_of(x).toFixed(1)}" cy="${y_of(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`,
        );
      }
    }
  });
  // Legend below the axis label, in columns.
  options.series.forEach((s, i) => {
    const column = i % 3;
    const row = Math.floor(i / 3);
    const x = margin.left + column * 215;
    const y = margin.top + plot_h + 56 + row * 16;
    parts.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    parts.push(`<text x="${x + 28}" y="${y}">${escapeXml(s.name)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
