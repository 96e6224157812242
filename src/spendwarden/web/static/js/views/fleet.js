// Fleet: spend now, the four live signals, spend over time, agents ranked, open alerts.
import { h, panel, replace, unavailable, badge, bar } from "../dom.js";
import { usd, exact, sum, toMicros, pct } from "../money.js";
import { clockTime, debounce, label } from "../fmt.js";
import { timeChart, destroyCharts, PALETTE } from "../charts.js";
import { allAgents, recentTransactions, bucketize, mix, optional } from "../data.js";
import { fleetAnalytics } from "../analytics.js";
import { alertRow } from "./alertlist.js";

const DIMENSIONS = ["agent", "vendor", "rail", "model", "tool"];
const state = { dimension: "agent", rank: "velocity" };

function money(value, cls = "") {
  return h("span", { class: cls, title: `$${exact(value)}` }, usd(value));
}

function kpi(labelText, value, foot) {
  return h("div", { class: "panel kpi" }, h("div", { class: "label" }, labelText), h("div", { class: "value" }, value), h("div", { class: "foot" }, foot));
}

function monthProgress() {
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return { elapsed: (now - start) / (end - start), daysLeft: (end - now) / 86400000, days: (end - start) / 86400000 };
}

function spendNow(agents, analytics) {
  const hour = sum(agents.map((a) => a.spend.hourly));
  const day = sum(agents.map((a) => a.spend.daily));
  const month = sum(agents.map((a) => a.spend.monthly));
  const budget = sum(agents.map((a) => a.caps.monthly || 0));
  const { elapsed } = monthProgress();
  const forecast = analytics.forecast && analytics.forecast.projected ? toMicros(analytics.forecast.projected) : (elapsed > 0 ? BigInt(Math.round(Number(month) / elapsed)) : month);
  const source = analytics.forecast ? analytics.forecast.label : "linear, month to date";
  const budgetFoot = budget > 0n
    ? h("div", {}, h("div", { class: "row" }, `${pct(Number(forecast) / Number(budget))} of ${usd(budget)} budget`), bar(Number(forecast) / Number(budget)))
    : `${source} · no monthly caps set`;
  return h("div", { class: "grid kpis" },
    kpi("Last hour", money(hour), "this calendar hour (UTC)"),
    kpi("Today", money(day), "since 00:00 UTC"),
    kpi("This month", money(month), `${agents.length} agents`),
    kpi("Month-end forecast", money(forecast), budgetFoot));
}

function signalCard(title, value, foot, extra = null) {
  return h("div", { class: "panel signal" }, h("div", { class: "label" }, h("span", {}, title)), h("div", { class: "value" }, value), extra, h("div", { class: "foot" }, foot));
}

function railCard(rails) {
  if (!rails.length) return signalCard("Payment-rail distribution", "—", "no spend in the last 24 h");
  const stack = h("div", { class: "stackbar", "aria-hidden": "true" },
    rails.map((r, i) => h("span", { title: `${r.key}: ${pct(r.share, 1)}`, style: { width: `${(r.share * 100).toFixed(2)}%`, background: PALETTE[i % PALETTE.length] } })));
  const legend = h("div", { class: "foot" }, rails.slice(0, 4).map((r, i) =>
    h("span", { style: { marginRight: "10px", whiteSpace: "nowrap" } }, h("i", { class: "swatch", style: { background: PALETTE[i % PALETTE.length] } }), `${r.key} ${pct(r.share)}`)));
  return h("div", { class: "panel signal" }, h("div", { class: "label" }, h("span", {}, "Payment-rail distribution")),
    h("div", { class: "value" }, `${rails[0].key} ${pct(rails[0].share)}`), stack, legend);
}

function signals(agents, rails, analytics) {
  const ranked = rankAgents(agents, analytics, "velocity");
  const top = ranked[0];
  const fleetVelocity = analytics.velocity ? analytics.velocity.fleet : sum(agents.map((a) => a.spend.hourly));
  const velocity = signalCard("Spend velocity", h("span", {}, money(fleetVelocity), h("span", { class: "muted", style: { fontSize: "13px" } }, " /h")),
    top && toMicros(top.velocity) > 0n ? h("span", {}, "fastest: ", h("a", { href: `#/agents/${encodeURIComponent(top.id)}` }, top.id), ` ${usd(top.velocity)}/h`) : "no agent is spending");
  const { elapsed, daysLeft } = monthProgress();
  const month = sum(agents.map((a) => a.spend.monthly));
  const budget = sum(agents.map((a) => a.caps.monthly || 0));
  const perDay = elapsed > 0 ? BigInt(Math.round(Number(month) / (elapsed * monthProgress().days))) : 0n;
  const daysToEmpty = budget > 0n && perDay > 0n ? Number(budget - month) / Number(perDay) : null;
  const burnFoot = daysToEmpty === null ? "no monthly budget to burn" : daysToEmpty < daysLeft
    ? h("span", { class: "delta-up" }, `budget empty in ${Math.max(0, daysToEmpty).toFixed(1)} d — ${daysLeft.toFixed(1)} d left in month`)
    : `on track: the budget outlasts the month (${daysLeft.toFixed(1)} d left)`;
  const burn = signalCard("Budget burn rate", h("span", {}, money(perDay), h("span", { class: "muted", style: { fontSize: "13px" } }, " /day")), burnFoot);
  let anomaly;
  if (analytics.anomaly) {
    const worst = rankAgents(agents, analytics, "anomaly")[0];
    const score = worst ? worst.anomaly ?? 0 : 0;
    anomaly = signalCard("Anomaly score", h("span", { class: score >= 0.7 ? "delta-up" : "" }, score.toFixed(2)),
      worst && score > 0 ? h("span", {}, "highest: ", h("a", { href: `#/agents/${encodeURIComponent(worst.id)}` }, worst.id), score >= 0.7 ? " — review" : "") : "all agents normal",
      bar(score));
  } else {
    anomaly = h("div", { class: "panel signal" }, h("div", { class: "label" }, h("span", {}, "Anomaly score")), unavailable("Anomaly score", analytics.reason || "Needs the analytics endpoints."));
  }
  return h("div", { class: "grid signals" }, velocity, railCard(rails), burn, anomaly);
}

function rankAgents(agents, analytics, by) {
  const rows = agents.map((a) => {
    const extra = (analytics.agents && analytics.agents[a.id]) || {};
    return { ...a, velocity: extra.velocity ?? a.spend.hourly, anomaly: extra.anomaly ?? null };
  });
  const key = by === "anomaly" ? (r) => r.anomaly ?? -1 : (r) => Number(toMicros(r.velocity));
  return rows.sort((a, b) => key(b) - key(a));
}

function topUtilization(agent) {
  const entries = Object.entries(agent.utilization || {});
  if (!entries.length) return null;
  return entries.sort((a, b) => b[1] - a[1])[0];
}

function agentsTable(agents, analytics, rerender) {
  const rows = rankAgents(agents, analytics, state.rank);
  const seg = h("div", { class: "seg", role: "group", "aria-label": "Rank agents by" },
    ["velocity", "anomaly"].map((k) => h("button", { type: "button", "aria-pressed": String(state.rank === k), onclick: () => { state.rank = k; rerender(); } }, k === "velocity" ? "Velocity" : "Anomaly")));
  const body = rows.length ? h("div", { class: "table-wrap" }, h("table", { id: "agents-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Agent"), h("th", {}, "Status"), h("th", { class: "num" }, "Velocity"), h("th", { class: "num" }, "Anomaly"),
      h("th", { class: "num hide-sm" }, "Today"), h("th", { class: "num hide-sm" }, "Month"), h("th", { class: "hide-sm" }, "Top cap"))),
    h("tbody", {}, rows.map((a) => {
      const util = topUtilization(a);
      return h("tr", { class: "clickable", "data-agent": a.id, onclick: () => { window.location.hash = `#/agents/${encodeURIComponent(a.id)}`; } },
        h("td", {}, h("a", { href: `#/agents/${encodeURIComponent(a.id)}` }, a.id), a.name && a.name !== a.id ? h("div", { class: "faint" }, a.name) : null),
        h("td", {}, badge(a.status)),
        h("td", { class: "num" }, money(a.velocity), h("span", { class: "faint" }, "/h")),
        h("td", { class: "num" }, a.anomaly === null ? h("span", { class: "faint" }, "—") : h("span", { class: "score" }, a.anomaly.toFixed(2), bar(a.anomaly))),
        h("td", { class: "num hide-sm" }, money(a.spend.daily)),
        h("td", { class: "num hide-sm" }, money(a.spend.monthly)),
        h("td", { class: "hide-sm", style: { minWidth: "150px" } }, util ? h("div", {}, h("div", { class: "faint", style: { fontSize: "12px" } }, `${label(util[0])} ${pct(util[1])}`), bar(util[1])) : h("span", { class: "faint" }, "no caps")));
    })))) : h("div", { class: "empty" }, "No agents yet. Create one with ", h("code", {}, "spendwarden agents create"), ".");
  return panel("Agents", body, { actions: seg, cls: "flush", hint: null });
}

function spendChart(txns, truncated, series) {
  const seg = h("div", { class: "seg", role: "group", "aria-label": "Group spend by" },
    DIMENSIONS.map((d) => h("button", { type: "button", "aria-pressed": String(state.dimension === d), "data-dimension": d, onclick: () => { state.dimension = d; series.redraw(); } }, label(d))));
  const box = h("div", { class: "chart", id: "fleet-chart" });
  const hint = series.source === "analytics" ? "last 24 h, hourly" : `last 24 h, hourly · from ${txns.length}${truncated ? "+" : ""} ledger rows`;
  return { el: panel("Spend over time", h("div", {}, h("div", { class: "row", style: { marginBottom: "8px" } }, seg, h("span", { class: "spacer" }), h("span", { class: "faint", style: { fontSize: "12px" } }, hint)), box), {}), box };
}

function alertsPanel(result, ctx, reload) {
  if (result.missing) return panel("Open alerts", unavailable("Alerts", result.reason));
  const items = result.data.items || [];
  const body = items.length
    ? h("div", { class: "alert-list scroll", id: "open-alerts" }, items.slice(0, 20).map((a) => alertRow(a, { readOnly: ctx.session.readOnly, onChange: reload, compact: true })))
    : h("div", { class: "empty", id: "open-alerts" }, "No open alerts. All quiet.");
  return panel("Open alerts", body, { cls: "flush", actions: h("a", { href: "#/alerts", class: "btn btn-sm btn-ghost" }, "All alerts →") });
}

// A new alert shows at once from the stream payload; the full refresh follows.
function showAlertNow(alert, ctx, reload) {
  const list = document.getElementById("open-alerts");
  if (!list || list.querySelector(`[data-alert-id="${CSS.escape(alert.id)}"]`)) return;
  const row = alertRow(alert, { readOnly: ctx.session.readOnly, onChange: reload, compact: true, fresh: true });
  if (list.classList.contains("alert-list")) list.prepend(row);
  else list.replaceWith(h("div", { class: "alert-list scroll", id: "open-alerts" }, row));
}

export async function renderFleet(root, ctx) {
  const head = h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Fleet"), h("div", { class: "sub", id: "fleet-sub" }, "Loading…")));
  const body = h("div", { class: "stack" });
  root.append(head, body);
  let drawn = false;
  async function load() {
    const [agents, recent, alerts] = await Promise.all([allAgents(), recentTransactions({ hours: 24 }), optional("/v1/alerts", { status: "open", limit: 50 })]);
    const analytics = await fleetAnalytics(agents);
    const rails = analytics.rails || mix(recent.items, "rail");
    destroyCharts();
    const series = { source: analytics.timeseries ? "analytics" : "ledger", redraw: () => draw() };
    const chart = spendChart(recent.items, recent.truncated, series);
    const draw = async () => {
      for (const b of chart.el.querySelectorAll("[data-dimension]")) b.setAttribute("aria-pressed", String(b.dataset.dimension === state.dimension));
      destroyCharts();
      replace(chart.box);
      const data = (analytics.timeseries && (await analytics.timeseries(state.dimension))) || bucketize(recent.items, { dimension: state.dimension });
      if (!data.series.length) replace(chart.box, h("div", { class: "empty" }, "No spend in the last 24 hours."));
      else timeChart(chart.box, data.times, data.series, { stacked: true, height: 260 });
    };
    const halted = agents.filter((a) => a.status === "halted").length;
    replace(document.getElementById("fleet-sub") || head, `${agents.length} agents · ${halted} halted · updated ${clockTime()}`);
    replace(body,
      spendNow(agents, analytics),
      signals(agents, rails, analytics),
      h("div", { class: "grid cols-3-1" }, chart.el, alertsPanel(alerts, ctx, load)),
      agentsTable(agents, analytics, () => load()));
    await draw();
    drawn = true;
  }
  await load();
  const refresh = debounce(() => { if (drawn) load().catch(() => {}); }, 600);
  ctx.setCleanup(ctx.onLive((kind, payload) => {
    if (kind === "alert" && payload && payload.status === "open") showAlertNow(payload, ctx, load);
    if (["transaction", "alert", "agent", "poll"].includes(kind)) refresh();
  }));
}
