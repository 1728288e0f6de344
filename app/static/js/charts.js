// Thin helpers over the vendored Chartist (SVG charts; labels are written as text, never HTML).

import { AutoScaleAxis, BarChart, FixedScaleAxis, LineChart, Svg } from "../vendor/chartist/index.js";
import { el } from "./dom.js";

// Chartist writes a few inline `style` attributes, which the Content-Security-Policy
// (style-src 'self') refuses. Set those declarations through the CSSOM instead, which the
// policy allows, so the charts look as intended and the console stays clean.
const setAttributes = Svg.prototype.attr;
Svg.prototype.attr = function attr(attributes, ns) {
  if (attributes && typeof attributes === "object" && typeof attributes.style === "string") {
    const { style, ...rest } = attributes;
    for (const declaration of style.split(";")) {
      const [property, ...value] = declaration.split(":");
      if (property.trim() && value.length) this._node.style.setProperty(property.trim(), value.join(":").trim());
    }
    return setAttributes.call(this, rest, ns);
  }
  return setAttributes.call(this, attributes, ns);
};

/** Drop undefined options: Chartist would copy them over its defaults. */
function defined(options) {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** Mark the container once Chartist has drawn into it (tests and screen readers wait on it). */
function whenDrawn(chart, container) {
  container.dataset.drawn = "";
  chart.on("created", () => { container.dataset.drawn = "1"; });
  return chart;
}

/** A legend naming each series, with the series colour as a swatch. */
function legend(container, names) {
  const letters = "abcd";
  const list = el("ul", { class: "chart-legend" },
    ...names.map((name, index) => el("li", {}, el("span", { class: `key key-${letters[index]}`, "aria-hidden": "true" }), name)));
  container.before(list);
  return list;
}

/** Remove a legend left by a previous drawing. */
export function clearChart(container) {
  const previous = container.previousElementSibling;
  if (previous && previous.classList.contains("chart-legend")) previous.remove();
  container.replaceChildren();
}

const ratioLabel = (value) => `${Math.round(value * 100)}%`;

/** An axis from 0% to 100% in quarters (or fifths), rather than Chartist's own steps. */
function ratioAxis(ticks = [0, 0.25, 0.5, 0.75, 1]) {
  return { type: FixedScaleAxis, low: 0, high: 1, ticks, labelInterpolationFnc: ratioLabel };
}

/**
 * Vertical bars: `series` is a list of {name, values}; `ratio` labels the axis as percentages.
 */
export function barChart(container, labels, series, { ratio = false, low = 0, high, integer = false, height = 260, horizontal = false, maxLabels } = {}) {
  clearChart(container);
  if (series.length > 1) legend(container, series.map((s) => s.name));
  const valueAxis = ratio ? ratioAxis() : defined({ low, high, onlyInteger: integer });
  const longest = Math.max(0, ...labels.map((label) => String(label).length));
  const options = {
    height: horizontal ? Math.max(height, labels.length * 26 * Math.max(1, series.length * 0.7) + 40) : height,
    seriesBarDistance: 12,
    horizontalBars: horizontal,
    chartPadding: { top: 10, right: 30, bottom: 5, left: 5 },
  };
  if (horizontal) {
    options.axisX = valueAxis;
    options.axisY = { offset: Math.min(220, 20 + longest * 6.5) };
  } else {
    options.axisY = valueAxis;
    const every = maxLabels ? Math.max(1, Math.ceil(labels.length / maxLabels)) : 1;
    options.axisX = { offset: 40, labelInterpolationFnc: (value, index) => (index % every === 0 ? value : null) };
  }
  // Horizontal bars are drawn bottom up: reverse the rows so the first one is on top (Chartist's
  // reverseData would also reverse the series, and with them the colours of the legend).
  const order = (values) => (horizontal ? [...values].reverse() : values);
  const data = { labels: order(labels), series: series.map((s) => ({ name: s.name, data: order(s.values) })) };
  return whenDrawn(new BarChart(container, data, options), container);
}

/**
 * Lines over a numeric x axis: `series` is a list of {name, points: [{x, y}], className?}.
 */
export function lineChart(container, series, { xRatio = false, yRatio = false, height = 260, low, high, xLabel } = {}) {
  clearChart(container);
  const named = series.filter((s) => !s.className);
  if (named.length > 1) legend(container, named.map((s) => s.name));
  const options = {
    height,
    showArea: false,
    lineSmooth: false,
    chartPadding: { top: 10, right: 30, bottom: 5, left: 5 },
    axisX: xRatio ? ratioAxis([0, 0.2, 0.4, 0.6, 0.8, 1])
      : defined({ type: AutoScaleAxis, onlyInteger: true, labelInterpolationFnc: xLabel }),
    axisY: yRatio ? ratioAxis() : defined({ low, high, onlyInteger: true }),
  };
  const data = { series: series.map((s) => defined({ name: s.name, className: s.className, data: s.points })) };
  return whenDrawn(new LineChart(container, data, options), container);
}

/** A plain data table: `columns` is a list of [key, heading, format?]. */
export function dataTable(table, columns, rows) {
  const head = el("thead", {}, el("tr", {}, ...columns.map(([, heading]) => el("th", { scope: "col" }, heading))));
  const body = el("tbody", {}, ...rows.map((row) => el("tr", {},
    ...columns.map(([key, , format]) => el("td", {}, format ? format(row[key], row) : (row[key] ?? "–"))))));
  table.replaceChildren(head, body);
}
