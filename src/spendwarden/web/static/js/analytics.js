// Adapters from the analytics endpoints to what the views draw. Each returns null (or omits
// a field) when the server has no analytics, and the views fall back or say "not available".
import { optional } from "./api.js";

export async function fleetAnalytics(agents) {
  const forecast = await optional("/v1/analytics/forecast");
  if (forecast.missing) return { reason: "The analytics endpoints are not installed on this server." };
  return { reason: null };
}

export async function agentAnalytics(agentId) {
  const result = await optional(`/v1/analytics/agents/${encodeURIComponent(agentId)}`);
  if (result.missing) return { missing: true, reason: result.reason };
  return { data: result.data };
}

// The agent's hourly spend series from analytics, or null to derive it from ledger rows.
export function agentSeries(analytics, _txns) {
  return null;
}
