// Adapters from the analytics endpoints (rollups) to what the views draw. When the server has
// no analytics, each adapter says so and the views derive what they can from ledger rows or
// show a "not available" panel.
import { optional } from "./api.js";
import { toMicros, toNumber, sum } from "./money.js";

const PROFILE_LIMIT = 40;

function mixRows(rows) {
  return (rows || []).map((r) => ({ key: r.key || "(none)", micros: toMicros(r.amount_usd), share: Number(r.share) || 0 }));
}

// {"series": [{"key", "points": [{"t", "amount_usd"}]}]} -> {times, series: [{label, micros, values}]}
export function toChartSeries(data) {
  const series = data.series || [];
  if (!series.length) return { times: [], series: [] };
  const times = series[0].points.map((p) => Date.parse(p.t) / 1000);
  return {
    times,
    series: series.map((s) => {
      const micros = s.points.map((p) => toMicros(p.amount_usd));
      return { label: s.key === "total" ? "spend" : s.key, micros, values: micros.map((m) => toNumber(m)) };
    }),
  };
}

async function timeseries(params) {
  const result = await optional("/v1/analytics/timeseries", { bucket: "hour", window: "24h", ...params });
  return result.missing ? null : toChartSeries(result.data);
}

export async function fleetAnalytics(agents) {
  const forecast = await optional("/v1/analytics/forecast");
  if (forecast.missing) return { reason: forecast.reason };
  const busy = agents.filter((a) => a.status !== "revoked").slice(0, PROFILE_LIMIT);
  const [summary, ...profiles] = await Promise.all([
    optional("/v1/analytics/summary", { window: "24h", group_by: "rail" }),
    ...busy.map((a) => optional(`/v1/analytics/agents/${encodeURIComponent(a.id)}`)),
  ]);
  const byAgent = {};
  profiles.forEach((p, i) => {
    if (p.missing) return;
    byAgent[busy[i].id] = { velocity: p.data.velocity.usd_per_hour, anomaly: Number(p.data.anomaly.score), profile: p.data };
  });
  const f = forecast.data;
  const out = {
    reason: null,
    forecast: {
      projected: f.trend_adjusted_total_usd ?? f.projected_month_total_usd,
      label: `trend-adjusted · trend ${f.trend ?? "flat"}`,
      perDay: f.daily_average_usd,
    },
    rails: summary.missing ? null : mixRows((summary.data.breakdowns || {}).rail),
    timeseries: (dimension) => timeseries({ dimension }),
  };
  if (Object.keys(byAgent).length) {
    out.agents = byAgent;
    out.anomaly = true;
    out.velocity = { fleet: sum(Object.values(byAgent).map((a) => a.velocity)) };
  }
  return out;
}

export async function agentAnalytics(agentId) {
  const [profile, series] = await Promise.all([
    optional(`/v1/analytics/agents/${encodeURIComponent(agentId)}`),
    timeseries({ agent_id: agentId }),
  ]);
  if (profile.missing) return { missing: true, reason: profile.reason, series };
  const d = profile.data;
  return {
    data: d,
    series,
    baseline: d.velocity ? d.velocity.baseline_usd_per_hour : null,
    toolMix: d.tool_mix ? mixRows(d.tool_mix) : null,
    railMix: d.rail_mix ? mixRows(d.rail_mix) : null,
  };
}

// The agent's hourly spend series from analytics, or null to derive it from ledger rows.
export function agentSeries(analytics) {
  return analytics.series && analytics.series.series.length ? analytics.series : null;
}
