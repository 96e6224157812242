// Data for the views. Analytics endpoints answer from rollups when the server has them; when
// it does not, the same figures are derived here from the recent ledger rows (exact BigInt
// sums) and the panel says which source it used.
import { get, optional } from "./api.js";
import { toMicros, toNumber } from "./money.js";

const NOT_SPEND = new Set(["voided", "refunded"]);

export async function allAgents() {
  const items = [];
  let after = null;
  for (let page = 0; page < 20; page += 1) {
    const data = await get("/v1/agents", { limit: 500, after });
    items.push(...data.items);
    if (!data.next) break;
    after = data.next;
  }
  return items;
}

export async function recentTransactions({ hours = 24, agentId = null, limit = 1000 } = {}) {
  const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const data = await get("/v1/transactions", { since, agent_id: agentId, limit });
  return { items: data.items, truncated: Boolean(data.next) };
}

function dimensionOf(txn, dimension) {
  const key = dimension === "agent" ? txn.agent_id : txn[dimension];
  return key || "(none)";
}

export function isSpend(txn) {
  return !NOT_SPEND.has(txn.status);
}

// Spend per time bucket and per dimension value, top N series plus "other".
export function bucketize(txns, { bucketSec = 3600, hours = 24, dimension = "agent", top = 6 } = {}) {
  const end = Math.ceil(Date.now() / 1000 / bucketSec) * bucketSec;
  const start = end - Math.ceil((hours * 3600) / bucketSec) * bucketSec;
  const times = [];
  for (let t = start; t < end; t += bucketSec) times.push(t);
  const totals = new Map();
  const cells = new Map();
  for (const txn of txns) {
    if (!isSpend(txn)) continue;
    const ts = Date.parse(txn.occurred_at) / 1000;
    if (ts < start || ts >= end) continue;
    const key = dimensionOf(txn, dimension);
    const idx = Math.floor((ts - start) / bucketSec);
    const amount = toMicros(txn.amount_usd);
    totals.set(key, (totals.get(key) || 0n) + amount);
    if (!cells.has(key)) cells.set(key, new Array(times.length).fill(0n));
    cells.get(key)[idx] += amount;
  }
  const ranked = [...totals.entries()].sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : 0)).map(([k]) => k);
  const keep = ranked.slice(0, top);
  const series = keep.map((key) => ({ label: key, micros: cells.get(key) }));
  if (ranked.length > top) {
    const other = new Array(times.length).fill(0n);
    for (const key of ranked.slice(top)) cells.get(key).forEach((v, i) => { other[i] += v; });
    series.push({ label: "other", micros: other });
  }
  for (const s of series) s.values = s.micros.map((m) => toNumber(m));
  return { times, series };
}

// Share of spend per dimension value: [{key, micros, share}], largest first.
export function mix(txns, dimension) {
  const totals = new Map();
  let all = 0n;
  for (const txn of txns) {
    if (!isSpend(txn)) continue;
    const key = dimensionOf(txn, dimension);
    const amount = toMicros(txn.amount_usd);
    totals.set(key, (totals.get(key) || 0n) + amount);
    all += amount;
  }
  return [...totals.entries()]
    .map(([key, micros]) => ({ key, micros, share: all === 0n ? 0 : Number(micros) / Number(all) }))
    .sort((a, b) => b.share - a.share);
}

// Cost per task, in order of each task's first charge (a trend of what one task costs).
export function costPerTask(txns) {
  const tasks = new Map();
  for (const txn of [...txns].reverse()) {
    if (!isSpend(txn) || !txn.task_id) continue;
    const ts = Date.parse(txn.occurred_at) / 1000;
    const task = tasks.get(txn.task_id) || { id: txn.task_id, first: ts, micros: 0n, calls: 0 };
    task.micros += toMicros(txn.amount_usd);
    task.calls += 1;
    tasks.set(txn.task_id, task);
  }
  return [...tasks.values()].sort((a, b) => a.first - b.first);
}

export { optional };
