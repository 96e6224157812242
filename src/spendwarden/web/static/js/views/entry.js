// One ledger entry: its fields, hash and previous hash, and the chain status of its agent.
import { h, panel, badge, unavailable } from "../dom.js";
import { get } from "../api.js";
import { usd } from "../money.js";
import { when } from "../fmt.js";

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function chainStatus(report, txn) {
  const mine = (report.findings || []).filter((f) => f.id === txn.id || f.seq === txn.seq);
  const others = (report.findings || []).length - mine.length;
  const head = report.ok
    ? h("div", { class: "row" }, badge("chain intact", "ok"), h("span", { class: "muted" }, `${report.rows} rows of ${txn.agent_id} re-hashed, no finding`))
    : h("div", { class: "row" }, badge(mine.length ? "this entry fails" : "chain has findings", "bad"),
      h("span", { class: "muted" }, `${report.findings.length} finding(s); ${mine.length} on this entry, ${others} elsewhere`));
  const list = (report.findings || []).slice(0, 20).map((f) => h("div", { class: "figures" },
    h("span", {}, h("b", {}, f.kind), f.id || "—"), h("span", {}, h("b", {}, "seq"), String(f.seq ?? "—")), h("span", {}, f.detail)));
  return h("div", { class: "stack", id: "chain-status" }, head, list);
}

export async function renderEntry(root, ctx, id) {
  let txn;
  try {
    txn = await get(`/v1/transactions/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status === 404) return root.append(h("div", { class: "panel" }, unavailable(`Transaction ${id}`, "No ledger entry has this id.")));
    throw error;
  }
  const verifying = h("div", { class: "muted", id: "chain-status" }, "Verifying the chain…");
  const usage = txn.usage ? `${txn.usage.input_tokens} in · ${txn.usage.output_tokens} out · ${txn.usage.cache_read_tokens} cache read · ${txn.usage.cache_write_tokens} cache write` : null;
  root.append(
    h("div", { class: "page-head" }, h("div", {},
      h("div", { class: "row" }, h("h1", {}, `${usd(txn.amount_usd)} · ${txn.vendor || txn.rail}`), badge(txn.status, txn.status === "settled" ? "ok" : "warning")),
      h("div", { class: "sub" }, h("a", { href: `#/agents/${encodeURIComponent(txn.agent_id)}` }, txn.agent_id), ` · ledger entry #${txn.seq} · ${when(txn.occurred_at)}`)),
      h("a", { class: "btn", href: `#/transactions?agent_id=${encodeURIComponent(txn.agent_id)}` }, "← Transactions")),
    h("div", { class: "grid cols-2" },
      panel("Entry", kv([["Id", h("span", { class: "mono" }, txn.id)], ["Amount", h("span", { class: "mono" }, `$${txn.amount_usd}`)],
        ["Original", txn.original_currency ? `${txn.original_amount} ${txn.original_currency}` : null], ["Rail", txn.rail], ["Vendor", txn.vendor],
        ["Tool", txn.tool], ["Endpoint", txn.endpoint], ["Model", txn.model], ["Tokens", usage], ["Kind", txn.kind], ["Attempt", String(txn.attempt)],
        ["Task", txn.task_id], ["User", txn.user_id], ["Counterparty", txn.counterparty_agent_id], ["Description", txn.description],
        ["Source", `${txn.source}${txn.external_id ? ` · ${txn.external_id}` : ""}`], ["Occurred", when(txn.occurred_at)], ["Recorded", when(txn.recorded_at)],
        ["Price version", txn.price_version], ["Hold", txn.hold_id]])),
      panel("Hash chain", h("div", { class: "stack" },
        kv([["Sequence", `#${txn.seq}`], ["Hash", h("span", { class: "hash", id: "entry-hash" }, txn.hash)], ["Previous hash", h("span", { class: "hash", id: "entry-prev" }, txn.prev_hash)]]),
        verifying))));
  try {
    const report = await get("/v1/ledger/verify", { agent_id: txn.agent_id });
    verifying.replaceWith(chainStatus(report, txn));
  } catch (error) {
    verifying.replaceWith(unavailable("Chain verification", error.message));
  }
}
