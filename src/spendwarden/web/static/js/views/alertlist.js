// One alert as a row: severity, title, agent, age, the figures that made it fire, actions.
import { h, badge, toast } from "../dom.js";
import { post } from "../api.js";
import { ago, label } from "../fmt.js";

function figureValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function figures(alert) {
  const entries = Object.entries(alert.figures || {});
  if (!entries.length) return null;
  return h("div", { class: "figures", "aria-label": "Figures" },
    entries.slice(0, 12).map(([k, v]) => h("span", { title: `${k}: ${figureValue(v)}` }, h("b", {}, label(k)), figureValue(v))));
}

export function alertRow(alert, { readOnly, onChange, fresh = false, compact = false }) {
  const actions = [];
  if (!readOnly && alert.status === "open") {
    actions.push(h("button", { class: "btn btn-sm", type: "button", "data-action": "ack", onclick: () => act(alert, "ack", onChange) }, "Acknowledge"));
  }
  if (!readOnly && alert.status !== "resolved") {
    actions.push(h("button", { class: "btn btn-sm", type: "button", "data-action": "resolve", onclick: () => act(alert, "resolve", onChange) }, "Resolve"));
  }
  return h("div", { class: `alert-item${fresh ? " fresh" : ""}`, "data-alert-id": alert.id, "data-rule": alert.rule },
    badge(alert.severity),
    h("div", {},
      h("div", { class: "title" }, alert.title || label(alert.rule)),
      h("div", { class: "meta" },
        alert.agent_id ? h("a", { href: `#/agents/${encodeURIComponent(alert.agent_id)}` }, alert.agent_id) : "fleet",
        ` · ${alert.rule} · ${ago(alert.last_seen_at || alert.first_seen_at)}`,
        alert.occurrences > 1 ? ` · ×${alert.occurrences}` : "",
        alert.status !== "open" ? ` · ${alert.status}${alert.acknowledged_by ? ` by ${alert.acknowledged_by}` : ""}` : ""),
      compact ? null : (alert.message ? h("div", { class: "meta" }, alert.message) : null),
      figures(alert)),
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
