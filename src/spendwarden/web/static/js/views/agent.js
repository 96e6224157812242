// One agent: status and actions, caps with utilization, spend over time against its baseline,
// cost per task, tool and rail mix, recent transactions and alerts.
import { h, panel, replace, unavailable, badge, bar, toast } from "../dom.js";
import { usd, exact, toMicros, toNumber, pct } from "../money.js";
import { ago, clockTime, debounce, label } from "../fmt.js";
import { get, optional } from "../api.js";
import { timeChart, destroyCharts, PALETTE } from "../charts.js";
import { recentTransactions, bucketize, mix, costPerTask } from "../data.js";
import { agentAnalytics, agentSeries } from "../analytics.js";
import { alertRow } from "./alertlist.js";
import { actionDialog, capsDialog } from "./dialogs.js";

const CAP_ORDER = ["per_transaction", "per_task", "hourly", "daily", "weekly", "monthly", "total"];
const WINDOW_CAPS = new Set(["hourly", "daily", "weekly", "monthly", "total"]);

function money(value) {
  return h("span", { title: `$${exact(value)}` }, usd(value));
}

function capsPanel(agent) {
  const caps = CAP_ORDER.filter((c) => agent.caps[c] !== undefined);
  if (!caps.length) return panel("Caps", h("div", { class: "empty" }, "No caps: this agent can spend without limit."));
  return panel("Caps", h("div", { class: "caps", id: "caps" }, caps.map((cap) => {
    const util = agent.utilization[cap];
    const spent = WINDOW_CAPS.has(cap) ? agent.spend[cap] : null;
    return h("div", { class: "cap", "data-cap": cap },
      h("div", { class: "top" }, h("span", { class: "name" }, label(cap)),
        h("span", { class: "muted" }, spent !== null && spent !== undefined ? [money(spent), " of ", money(agent.caps[cap])] : ["limit ", money(agent.caps[cap])],
          util !== undefined ? ` · ${pct(util)}` : "")),
      util !== undefined ? bar(util) : h("div", { class: "faint", style: { fontSize: "12px" } }, "checked per request"));
  })), { hint: `open holds ${usd(agent.held)}` });
}

function statusPanel(agent, ctx, reload) {
  const readOnly = ctx.session.readOnly;
  const id = agent.id;
  const actions = readOnly ? null : h("div", { class: "row", id: "agent-actions" },
    agent.status === "active" ? h("button", { class: "btn btn-danger solid", id: "halt", type: "button", onclick: () => actionDialog({
      title: `Halt ${id}?`, verb: "Halt agent", danger: true, path: `/v1/agents/${encodeURIComponent(id)}/halt`,
      body: "New authorizations are refused with 423 until a person resumes the agent.", onDone: reload }) }, "Halt") : null,
    agent.status === "halted" ? h("button", { class: "btn btn-primary", id: "resume", type: "button", onclick: () => actionDialog({
      title: `Resume ${id}?`, verb: "Resume agent", path: `/v1/agents/${encodeURIComponent(id)}/resume`,
      body: "The agent may authorize spend again within its caps.", onDone: reload }) }, "Resume") : null,
    agent.status !== "revoked" ? h("button", { class: "btn", id: "edit-caps", type: "button", onclick: () => capsDialog(agent, reload) }, "Edit caps") : null,
    agent.status !== "revoked" ? h("button", { class: "btn btn-danger", id: "revoke", type: "button", onclick: () => actionDialog({
      title: `Revoke ${id}?`, verb: "Revoke for good", danger: true, path: `/v1/agents/${encodeURIComponent(id)}/revoke`,
      body: "All of its keys stop working at once (401). This cannot be undone.", onDone: reload }) }, "Revoke") : null);
  return h("div", { class: "page-head" },
    h("div", {},
      h("div", { class: "row" }, h("h1", {}, agent.name && agent.name !== id ? `${agent.name}` : id), h("span", { id: "agent-status" }, badge(agent.status))),
      h("div", { class: "sub" }, `${id} · ${agent.tier} tier${agent.owner ? ` · owner ${agent.owner}` : ""} · ${agent.ledger.rows} ledger rows · updated ${clockTime()}`),
      agent.status_reason ? h("div", { class: "sub" }, `Reason: ${agent.status_reason}`) : null),
    actions);
}

function mixPanel(title, rows) {
  if (!rows.length) return panel(title, h("div", { class: "empty" }, "No spend in the last 24 hours."));
  return panel(title, h("div", { class: "mix" }, rows.slice(0, 6).map((r, i) =>
    h("div", { class: "line" }, h("span", { class: "k", title: r.key }, h("i", { class: "swatch", style: { background: PALETTE[i % PALETTE.length] } }), r.key),
      h("div", { class: "bar" }, h("span", { style: { width: `${(r.share * 100).toFixed(1)}%`, background: PALETTE[i % PALETTE.length] } })),
      h("span", { class: "v", title: `$${exact(r.micros)}` }, `${usd(r.micros)} · ${pct(r.share)}`)))), { hint: "last 24 h" });
}

function transactionsPanel(items, id) {
  const body = items.length ? h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", { class: "num" }, "Amount"), h("th", {}, "Rail"), h("th", { class: "hide-sm" }, "Vendor"), h("th", { class: "hide-sm" }, "Tool / model"), h("th", { class: "hide-sm" }, "Task"), h("th", {}, "Status"))),
    h("tbody", {}, items.slice(0, 12).map((t) => h("tr", { class: "clickable", onclick: () => { window.location.hash = `#/ledger/${t.id}`; } },
      h("td", {}, h("a", { href: `#/ledger/${t.id}` }, ago(t.occurred_at))),
      h("td", { class: "num mono", title: `$${t.amount_usd}` }, t.amount_usd),
      h("td", {}, t.rail), h("td", { class: "hide-sm" }, t.vendor || "—"), h("td", { class: "hide-sm" }, t.tool || t.model || "—"),
      h("td", { class: "hide-sm mono" }, t.task_id || "—"), h("td", {}, badge(t.status, t.status === "settled" ? "ok" : "warning")))))))
    : h("div", { class: "empty" }, "No transactions yet.");
  return panel("Recent transactions", body, { cls: "flush", actions: h("a", { class: "btn btn-sm btn-ghost", href: `#/transactions?agent_id=${encodeURIComponent(id)}` }, "All →") });
}

function drawSpend(box, recent, analytics) {
  const data = agentSeries(analytics) || bucketize(recent.items, { dimension: "agent", top: 1 });
  const series = data.series.slice(0, 1).map((s) => ({ ...s, label: "spend / hour", fill: true }));
  const baseline = analytics.baseline;
  if (baseline !== undefined && baseline !== null) {
    const m = toMicros(baseline);
    series.push({ label: "baseline", values: data.times.map(() => toNumber(m)), micros: data.times.map(() => m), color: "#94a3b8", dash: [6, 4], width: 1.5 });
  }
  if (!series.length || !series[0].values.some((v) => v > 0)) return replace(box, h("div", { class: "empty" }, "No spend in the last 24 hours."));
  timeChart(box, data.times, series, { height: 300 });
}

function drawTasks(box, recent, analytics) {
  const tasks = costPerTask(recent.items).slice(-40);
  if (!tasks.length) return replace(box, h("div", { class: "empty" }, "No task-tagged spend in the last 24 hours."));
  const series = [{ label: "cost per task", values: tasks.map((t) => toNumber(t.micros)), micros: tasks.map((t) => t.micros), color: PALETTE[1] }];
  const average = analytics.data && analytics.data.cost_per_task && analytics.data.cost_per_task.average_usd_7d;
  if (average) {
    const m = toMicros(average);
    series.push({ label: "7-day average", values: tasks.map(() => toNumber(m)), micros: tasks.map(() => m), color: "#94a3b8", dash: [6, 4], width: 1.5 });
  }
  timeChart(box, tasks.map((t) => Math.round(t.first)), series, { height: 200 });
}

function emptyIn(days) {
  if (days > 365) return "cap lasts over a year";
  return `cap empty in ${days.toFixed(1)} d`;
}

function signalsLine(analytics) {
  if (analytics.missing) return unavailable("Velocity, baseline and anomaly score", analytics.reason);
  const d = analytics.data;
  const v = d.velocity || {};
  const burn = d.burn || {};
  const cpt = d.cost_per_task || {};
  const score = d.anomaly ? Number(d.anomaly.score) : null;
  const wow = cpt.week_over_week;
  const rows = [
    ["Velocity", v.usd_per_hour !== undefined ? `${usd(v.usd_per_hour)}/h` : "—", v.ratio ? `${Number(v.ratio).toFixed(1)}× baseline` : null],
    ["Baseline", v.baseline_usd_per_hour !== undefined ? `${usd(v.baseline_usd_per_hour)}/h` : "—", null],
    ["Burn rate", burn.usd_per_day !== undefined ? `${usd(burn.usd_per_day)}/day` : "—",
      burn.days_until_empty !== null && burn.days_until_empty !== undefined ? emptyIn(Number(burn.days_until_empty)) : null],
    ["Cost per task", cpt.average_usd_7d ? usd(cpt.average_usd_7d) : "—",
      wow !== null && wow !== undefined ? `${wow >= 0 ? "+" : ""}${pct(wow)} week over week` : null],
    ["Retry cost", d.retry_cost_ratio !== undefined ? pct(d.retry_cost_ratio, 1) : "—", null],
    ["Failure rate", d.failure_rate !== undefined ? pct(d.failure_rate, 1) : "—", null],
  ];
  return h("div", { class: "stack", style: { gap: "10px" } },
    score === null ? null : h("div", { class: "row", id: "anomaly" }, h("span", { class: "muted" }, "Anomaly score"), h("span", { class: "spacer" }),
      h("strong", { class: score >= 0.7 ? "delta-up" : "" }, score.toFixed(2)), h("div", { style: { width: "90px" } }, bar(score))),
    h("dl", { class: "kv" }, rows.flatMap(([k, val, note]) => [h("dt", {}, k), h("dd", {}, val, note ? h("span", { class: "faint" }, ` · ${note}`) : null)])));
}

export async function renderAgent(root, ctx, id) {
  const body = h("div", { class: "stack" });
  root.append(body);
  async function load() {
    const [agent, recent, alerts, analytics] = await Promise.all([
      get(`/v1/agents/${encodeURIComponent(id)}`), recentTransactions({ hours: 24, agentId: id }),
      optional("/v1/alerts", { agent_id: id, limit: 20 }), agentAnalytics(id)]);
    destroyCharts();
    const spendBox = h("div", { class: "chart", id: "agent-chart" });
    const taskBox = h("div", { class: "chart small" });
    const alertsBody = alerts.missing ? unavailable("Alerts", alerts.reason)
      : (alerts.data.items.length ? h("div", { class: "alert-list" }, alerts.data.items.slice(0, 8).map((a) => alertRow(a, { readOnly: ctx.session.readOnly, onChange: load, compact: true })))
        : h("div", { class: "empty" }, "No alerts for this agent."));
    replace(body,
      statusPanel(agent, ctx, load),
      h("div", { class: "grid cols-3-1" },
        panel("Spend over time", spendBox, { hint: "last 24 h, hourly" }),
        h("div", { class: "stack" }, capsPanel(agent), panel("Signals", signalsLine(analytics)))),
      h("div", { class: "grid cols-3-1" },
        panel("Cost per task", taskBox, { hint: "each point is one task, by start time" }),
        h("div", { class: "stack" }, mixPanel("Tool mix", analytics.toolMix || mix(recent.items, "tool")), mixPanel("Rail mix", analytics.railMix || mix(recent.items, "rail")))),
      h("div", { class: "grid cols-3-1" }, transactionsPanel(recent.items, id), panel("Alerts", alertsBody, { cls: "flush" })));
    drawSpend(spendBox, recent, analytics);
    drawTasks(taskBox, recent, analytics);
  }
  try {
    await load();
  } catch (error) {
    if (error.status === 404) return replace(body, h("div", { class: "panel" }, unavailable(`Agent ${id}`, "There is no agent with this id.")));
    throw error;
  }
  const refresh = debounce(() => load().catch((e) => toast(e.message, { bad: true })), 600);
  ctx.setCleanup(ctx.onLive((kind, payload) => {
    if (kind === "poll" || !payload || payload.agent_id === id || payload.id === id) refresh();
  }));
}

