// One alert as a row: severity, title, agent, age, the figures that made it fire, actions.
import { h, badge, toast } from "../dom.js";
import { post } from "../api.js";
import { ago, label } from "../fmt.js";
import { usd } from "../money.js";

const EXACT = /^-?\d+\.\d{6}$/;
const ROW_KEYS = ["occurred_at", "amount_usd", "vendor", "tool", "rail", "status"];

// A figure as text: exact decimal amounts become "$12.34" (full precision in the tooltip).
function scalar(value) {
  if (value === null || value === undefined) return { text: "—" };
  if (typeof value === "string" && EXACT.test(value)) return { text: usd(value), title: `$${value}` };
  if (typeof value === "number" && !Number.isInteger(value)) return { text: String(Math.round(value * 10000) / 10000) };
  return { text: String(value) };
}

const SHARE = /(share|ratio_of|utilization|rate|pct)/;

function chip(name, value) {
  if (typeof value === "number" && SHARE.test(name) && value >= 0 && value <= 1) {
    return h("span", { title: `${name}: ${value}` }, h("b", {}, label(name)), `${(value * 100).toFixed(1)}%`);
  }
  if (Array.isArray(value) && value.length && typeof value[0] === "object") return null;
  let text;
  let title;
  if (value && typeof value === "object") {
    text = Object.entries(value).map(([k, v]) => `${label(k)} ${scalar(v).text}`).join(" · ") || "—";
    title = JSON.stringify(value);
  } else {
    ({ text, title } = scalar(value));
  }
  return h("span", { title: `${name}: ${title || text}` }, h("b", {}, label(name)), text);
}

function rowsTable(name, rows) {
  const keys = ROW_KEYS.filter((k) => rows.some((r) => r && r[k] !== undefined && r[k] !== null));
  return h("div", { class: "table-wrap figure-rows" }, h("div", { class: "faint", style: { fontSize: "12px", margin: "8px 0 2px" } }, label(name)),
    h("table", { class: "mini" }, h("tbody", {}, rows.slice(0, 5).map((r) => h("tr", {}, keys.map((k) => {
      if (k === "occurred_at") return h("td", { class: "faint" }, ago(r[k]));
      const cell = scalar(r[k]);
      return h("td", { class: k === "amount_usd" ? "num" : "", title: cell.title || null }, cell.text);
    }))))));
}

export function figures(alert, compact = false) {
  const entries = Object.entries(alert.figures || {}).filter(([, v]) => !compact || v === null || typeof v !== "object");
  if (!entries.length) return null;
  const lists = compact ? [] : entries.filter(([, v]) => Array.isArray(v) && v.length && typeof v[0] === "object");
  return h("div", {},
    h("div", { class: "figures", "aria-label": "Figures" }, entries.slice(0, compact ? 4 : 14).map(([k, v]) => chip(k, v))),
    lists.map(([k, v]) => rowsTable(k, v)));
}

export function alertRow(alert, { readOnly, onChange, fresh = false, compact = false }) {
  const actions = [];
  if (!readOnly && alert.status === "open") {
    actions.push(h("button", { class: "btn btn-sm", type: "button", "data-action": "ack", onclick: () => act(alert, "ack", onChange) }, "Acknowledge"));
  }
  if (!readOnly && alert.status !== "resolved") {
    actions.push(h("button", { class: "btn btn-sm", type: "button", "data-action": "resolve", onclick: () => act(alert, "resolve", onChange) }, "Resolve"));
  }
  return h("div", { class: `alert-item${fresh ? " fresh" : ""}${compact ? " compact" : ""}`, "data-alert-id": alert.id, "data-rule": alert.rule },
    badge(alert.severity),
    h("div", {},
      h("div", { class: "title" }, alert.title || label(alert.rule)),
      h("div", { class: "meta" },
        alert.agent_id ? h("a", { href: `#/agents/${encodeURIComponent(alert.agent_id)}` }, alert.agent_id) : "fleet",
        ` · ${alert.rule} · ${ago(alert.last_seen_at || alert.first_seen_at)}`,
        alert.occurrences > 1 ? ` · ×${alert.occurrences}` : "",
        alert.status !== "open" ? ` · ${alert.status}${alert.acknowledged_by ? ` by ${alert.acknowledged_by}` : ""}` : ""),
      compact ? null : (alert.message ? h("div", { class: "meta" }, alert.message) : null),
      figures(alert, compact)),
    h("div", { class: "row" }, actions));
}

async function act(alert, action, onChange) {
  try {
    await post(`/v1/alerts/${encodeURIComponent(alert.id)}/${action}`, {});
    toast(action === "ack" ? "Alert acknowledged." : "Alert resolved.");
    onChange && onChange();
  } catch (error) {
    toast(error.message, { bad: true });
  }
}
