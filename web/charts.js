// Plain SVG charts (no chart library to ship): horizontal bars with optional target markers and a band,
// and a line chart with a shaded band. Every chart has a <title> and sits beside a table of its numbers.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Horizontal bars. items: [{label, value, colour}]; markers: [{value, label}] (vertical lines);
 * band: [lo, hi, label] (shaded range). Values share one scale from 0 to the largest of all of them.
 */
export function bars({ title, items, unit = "", markers = [], band = null, width = 520, digits = 1 }) {
  const rowH = 26, labelW = 150, valueW = 80, top = band ? 22 : 6, bottom = markers.length ? 24 : 8;
  const height = top + items.length * rowH + bottom;
  const max = Math.max(1e-9, ...items.map((i) => i.value), ...markers.map((m) => m.value), ...(band ? [band[1]] : []));
  const plotW = width - labelW - valueW;
  const x = (v) => labelW + (v / max) * plotW;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart" });
  root.append(svg("title", {}, title));
  if (band) {
    root.append(svg("rect", { x: x(band[0]), y: top - 4, width: x(band[1]) - x(band[0]), height: height - top,
                             class: "band" }));
    root.append(svg("text", { x: x(band[0]), y: 12, class: "marker-label" }, band[2] || ""));
  }
  items.forEach((item, i) => {
    const y = top + i * rowH;
    root.append(svg("text", { x: labelW - 6, y: y + 16, "text-anchor": "end", class: "label" }, item.label));
    root.append(svg("rect", { x: labelW, y: y + 4, width: Math.max(1, x(item.value) - labelW), height: rowH - 8,
                             fill: item.colour || "#1f5fbf", rx: 2 }));
    root.append(svg("text", { x: x(item.value) + 4, y: y + 16, class: "value" },
                    `${item.value.toFixed(digits)}${unit ? ` ${unit}` : ""}`));
  });
  markers.forEach((m) => {
    root.append(svg("line", { x1: x(m.value), x2: x(m.value), y1: top - 4, y2: height - 14, class: "marker" }));
    root.append(svg("text", { x: x(m.value), y: height - 3, "text-anchor": "middle", class: "marker-label" }, m.label));
  });
  return root;
}

/**
 * A line chart over years. series: [{points: [[year, value]], colour, dashed}]; band: [lo, hi] (shaded
 * over the whole x range); markers: [{year, value, label}] (dots).
 */
export function lines({ title, series, band = null, markers = [], from, to, width = 520, height = 240 }) {
  const pad = { l: 44, r: 12, t: 12, b: 26 };
  const values = series.flatMap((s) => s.points.map((p) => p[1])).concat(markers.map((m) => m.value));
  if (band) values.push(band[0], band[1]);
  const hi = Math.max(...values) * 1.1, lo = 0;
  const x = (year) => pad.l + ((year - from) / (to - from)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - lo) / (hi - lo)) * (height - pad.t - pad.b);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart" });
  root.append(svg("title", {}, title));
  if (band) root.append(svg("rect", { x: x(from), y: y(band[1]), width: x(to) - x(from), height: y(band[0]) - y(band[1]),
                                      class: "band" }));
  for (let year = from; year <= to; year += 1) {
    if ((year - from) % 3 !== 0 && year !== to) continue;
    root.append(svg("text", { x: x(year), y: height - 8, "text-anchor": "middle", class: "axis" }, String(year)));
  }
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const v = (hi / ticks) * i;
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: pad.l - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, v.toFixed(0)));
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map(([yr, v], i) => `${i ? "L" : "M"}${x(yr).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, fill: "none", stroke: s.colour, "stroke-width": 2,
                             "stroke-dasharray": s.dashed ? "5 4" : "none" }));
    for (const [yr, v] of s.points) root.append(svg("circle", { cx: x(yr), cy: y(v), r: 3, fill: s.colour }));
  }
  for (const m of markers) {
    root.append(svg("circle", { cx: x(m.year), cy: y(m.value), r: 4, class: "target" }));
    root.append(svg("text", { x: x(m.year) + 6, y: y(m.value) - 6, class: "marker-label" }, m.label));
  }
  return root;
}
