// uPlot (vendored, MIT) wrappers: theme-aware colours read from CSS variables, resize with
// their container, legends that show money as "$12.34" from exact micro-dollar sums.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { usd } from "./money.js";

export const PALETTE = ["#6366f1", "#14b8a6", "#f59e0b", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16", "#ec4899", "#64748b"];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function moneyTick(v) {
  return usd(Math.abs(v) < 1e-9 ? "0" : v.toFixed(6));
}

function axis(stroke, grid, money) {
  const base = { stroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 }, font: "11px system-ui, sans-serif" };
  if (!money) return base;
  return {
    ...base,
    values: (u, ticks) => ticks.map(moneyTick),
    // Wide enough for the longest label, so "$1,200.00" is never clipped.
    size: (u, values) => (values ? Math.max(...values.map((v) => v.length)) * 7 + 16 : 50),
  };
}

const live = new Set();

export function destroyCharts() {
  for (const entry of live) { entry.observer.disconnect(); entry.plot.destroy(); }
  live.clear();
}

function stack(series) {
  const running = series[0].values.map(() => 0);
  const cumulative = series.map((s) => s.values.map((v, i) => (running[i] += v)));
  return series.map((s, i) => ({ ...s, values: cumulative[i] })).reverse();
}

// times: epoch seconds; series: [{label, values: Number[], micros?: BigInt[], color?, dash?, fill?}]
// With stacked: true the series become stacked bars (the legend still shows each one's own value).
export function timeChart(container, times, series, { height = 240, stacked = false } = {}) {
  const text = cssVar("--muted") || "#666";
  const grid = cssVar("--border") || "#ddd";
  const width = Math.max(260, container.clientWidth || 600);
  const coloured = series.map((s, i) => ({ ...s, color: s.color || PALETTE[i % PALETTE.length] }));
  const drawn = stacked ? stack(coloured) : coloured;
  const bars = stacked ? uPlot.paths.bars({ size: [0.72, 36], gap: 1 }) : null;
  const opts = {
    width, height,
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.12 : 1] } },
    axes: [axis(text, grid, false), axis(text, grid, true)],
    series: [
      { label: "Time", value: (u, v) => (v == null ? "" : new Date(v * 1000).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })) },
      ...drawn.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: stacked ? 0 : s.width || 2,
        dash: s.dash,
        fill: stacked ? s.color : s.fill ? `${s.color}22` : undefined,
        paths: bars || undefined,
        points: { show: !stacked && times.length < 40 && !s.dash },
        value: (u, v, si, idx) => {
          if (idx == null || v == null) return "—";
          return s.micros ? usd(s.micros[idx]) : moneyTick(v);
        },
      })),
    ],
  };
  if (stacked && times.length > 1) {
    const step = times[1] - times[0];
    opts.scales.x.range = () => [times[0] - step / 2, times[times.length - 1] + step / 2];
  }
  const plot = new uPlot(opts, [times, ...drawn.map((s) => s.values)], container);
  const observer = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w > 0 && Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height });
  });
  observer.observe(container);
  live.add({ plot, observer });
  return plot;
}
