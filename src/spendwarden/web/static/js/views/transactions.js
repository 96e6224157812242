// Transactions: filter by agent, rail, vendor, tool, task and time; cursor pages; each row
// links to its ledger entry.
import { h, replace, badge } from "../dom.js";
import { get } from "../api.js";
import { when } from "../fmt.js";
import { allAgents } from "../data.js";

const TEXT_FILTERS = ["rail", "vendor", "tool", "task_id"];

function localToIso(value) {
  return value ? new Date(value).toISOString() : "";
}

function row(t) {
  return h("tr", { class: "clickable", "data-txn": t.id, onclick: () => { window.location.hash = `#/ledger/${t.id}`; } },
    h("td", {}, h("a", { href: `#/ledger/${t.id}` }, when(t.occurred_at))),
    h("td", {}, h("a", { href: `#/agents/${encodeURIComponent(t.agent_id)}`, onclick: (e) => e.stopPropagation() }, t.agent_id)),
    h("td", { class: "num mono", title: `$${t.amount_usd}` }, t.amount_usd),
    h("td", {}, t.rail), h("td", { class: "hide-sm" }, t.vendor || "—"), h("td", { class: "hide-sm" }, t.tool || "—"),
    h("td", { class: "hide-sm" }, t.model || "—"), h("td", { class: "hide-sm mono" }, t.task_id || "—"),
    h("td", {}, badge(t.status, t.status === "settled" ? "ok" : "warning")), h("td", { class: "hide-sm mono faint" }, `#${t.seq}`));
}

export async function renderTransactions(root, ctx, params) {
  const agents = await allAgents();
  const agentSelect = h("select", { name: "agent_id" }, h("option", { value: "" }, "All agents"), agents.map((a) => h("option", { value: a.id }, a.id)));
  agentSelect.value = params.get("agent_id") || "";
  const inputs = Object.fromEntries(TEXT_FILTERS.map((f) => [f, h("input", { name: f, value: params.get(f) || "", placeholder: "any" })]));
  const since = h("input", { type: "datetime-local", name: "since" });
  const until = h("input", { type: "datetime-local", name: "until" });
  const form = h("form", {
    class: "panel filters", id: "txn-filters",
    onsubmit: (event) => {
      event.preventDefault();
      const q = new URLSearchParams();
      if (agentSelect.value) q.set("agent_id", agentSelect.value);
      for (const f of TEXT_FILTERS) if (inputs[f].value.trim()) q.set(f, inputs[f].value.trim());
      if (since.value) q.set("since", localToIso(since.value));
      if (until.value) q.set("until", localToIso(until.value));
      window.location.hash = `#/transactions?${q}`;
    },
  },
  h("label", { class: "field" }, "Agent", agentSelect),
  h("label", { class: "field" }, "Rail", inputs.rail), h("label", { class: "field" }, "Vendor", inputs.vendor),
  h("label", { class: "field" }, "Tool", inputs.tool), h("label", { class: "field" }, "Task", inputs.task_id),
  h("label", { class: "field" }, "From", since), h("label", { class: "field" }, "To", until),
  h("button", { class: "btn btn-primary", type: "submit" }, "Filter"));
  const tbody = h("tbody", {});
  const more = h("button", { class: "btn", type: "button", id: "load-more", hidden: true }, "Load more");
  const count = h("span", { class: "faint" });
  root.append(h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Transactions"), h("div", { class: "sub" }, "Newest first · every row is a hash-chained ledger entry"))),
    form, h("section", { class: "panel flush mt" }, h("div", { class: "table-wrap" }, h("table", { id: "txn-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Agent"), h("th", { class: "num" }, "Amount (USD)"), h("th", {}, "Rail"), h("th", { class: "hide-sm" }, "Vendor"),
        h("th", { class: "hide-sm" }, "Tool"), h("th", { class: "hide-sm" }, "Model"), h("th", { class: "hide-sm" }, "Task"), h("th", {}, "Status"), h("th", { class: "hide-sm" }, "Seq"))),
      tbody)), h("div", { class: "row", style: { padding: "12px 16px" } }, count, h("span", { class: "spacer" }), more)));
  const query = Object.fromEntries([...params.entries()].filter(([k]) => ["agent_id", ...TEXT_FILTERS, "since", "until"].includes(k)));
  let shown = 0;
  async function page(cursor) {
    more.disabled = true;
    const data = await get("/v1/transactions", { ...query, cursor, limit: 50 });
    if (!cursor) replace(tbody);
    tbody.append(...data.items.map(row));
    shown += data.items.length;
    if (!shown) tbody.append(h("tr", {}, h("td", { colspan: "10", class: "empty" }, "No transactions match these filters.")));
    count.textContent = `${shown} shown`;
    more.hidden = !data.next;
    more.disabled = false;
    more.onclick = () => page(data.next);
  }
  await page(null);
}
