// Alerts: open, acknowledged and resolved tabs; acknowledge and resolve; the figures.
import { h, panel, replace, unavailable } from "../dom.js";
import { get, optional } from "../api.js";
import { clockTime, debounce } from "../fmt.js";
import { alertRow } from "./alertlist.js";

const TABS = ["open", "acknowledged", "resolved"];

export async function refreshAlertCount() {
  const el = document.getElementById("alert-count");
  if (!el) return;
  try {
    const data = await get("/v1/alerts", { status: "open", limit: 100 });
    const n = data.items.length;
    el.hidden = n === 0;
    el.textContent = n >= 100 ? "99+" : String(n);
  } catch {
    el.hidden = true;
  }
}

export async function renderAlerts(root, ctx, status) {
  const sub = h("div", { class: "sub" }, "Loading…");
  const tabs = h("div", { class: "tabs", role: "tablist" }, TABS.map((t) => h("button", {
    type: "button", role: "tab", "aria-selected": String(t === status), "data-tab": t,
    onclick: () => { window.location.hash = `#/alerts/${t}`; },
  }, t[0].toUpperCase() + t.slice(1))));
  const list = h("div", { id: "alerts-list" });
  root.append(h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Alerts"), sub)), tabs, list);
  const seen = new Set();
  let first = true;
  async function load() {
    const result = await optional("/v1/alerts", { status, limit: 200 });
    if (result.missing) return replace(list, panel("Alerts", unavailable("Alerts", result.reason)));
    const items = result.data.items || [];
    replace(sub, `${items.length}${result.data.next ? "+" : ""} ${status} · updated ${clockTime()}`);
    const rows = items.map((a) => {
      const fresh = !first && !seen.has(a.id);
      seen.add(a.id);
      return alertRow(a, { readOnly: ctx.session.readOnly, onChange: () => { load(); refreshAlertCount(); }, fresh });
    });
    first = false;
    replace(list, h("section", { class: "panel flush" }, rows.length ? h("div", { class: "alert-list" }, rows)
      : h("div", { class: "empty" }, status === "open" ? "No open alerts. All quiet." : `No ${status} alerts.`)));
  }
  await load();
  const refresh = debounce(() => load().catch(() => {}), 400);
  // The stream carries the whole alert: show it at once, then reconcile with the list.
  function showNow(alert) {
    if (!alert || alert.status !== status) return;
    const existing = list.querySelector(`[data-alert-id="${CSS.escape(alert.id)}"]`);
    const row = alertRow(alert, { readOnly: ctx.session.readOnly, onChange: () => { load(); refreshAlertCount(); }, fresh: !existing });
    seen.add(alert.id);
    if (existing) return existing.replaceWith(row);
    const box = list.querySelector(".alert-list");
    if (box) box.prepend(row);
    else replace(list, h("section", { class: "panel flush" }, h("div", { class: "alert-list" }, row)));
  }
  ctx.setCleanup(ctx.onLive((kind, payload) => {
    if (kind === "alert") showNow(payload);
    if (kind === "alert" || kind === "poll") refresh();
  }));
}
