// Boot: ask who is signed in, then route by the location hash.
import { get, del, setCsrf, onSignedOut } from "./api.js";
import { clear, toast } from "./dom.js";
import { destroyCharts } from "./charts.js";
import { startLive, stopLive, onLive } from "./live.js";
import { renderSignIn } from "./views/signin.js";
import { renderFleet } from "./views/fleet.js";
import { renderAgent } from "./views/agent.js";
import { renderAlerts, refreshAlertCount } from "./views/alerts.js";
import { renderTransactions } from "./views/transactions.js";
import { renderEntry } from "./views/entry.js";

export const session = { role: null, actor: null, readOnly: true };
const view = document.getElementById("view");
let cleanup = null;

const THEME_KEY = "spendwarden.theme";

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function currentTheme() {
  const forced = document.documentElement.dataset.theme;
  if (forced) return forced;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function toggleTheme() {
  const next = currentTheme() === "dark" ? "light" : "dark";
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
  route();
}

const ROUTES = [
  [/^#\/fleet$/, "fleet", () => renderFleet],
  [/^#\/agents\/([^/]+)$/, "fleet", (m) => (el, ctx) => renderAgent(el, ctx, decodeURIComponent(m[1]))],
  [/^#\/alerts(?:\/(open|acknowledged|resolved))?$/, "alerts", (m) => (el, ctx) => renderAlerts(el, ctx, m[1] || "open")],
  [/^#\/transactions(?:\?(.*))?$/, "transactions", (m) => (el, ctx) => renderTransactions(el, ctx, new URLSearchParams(m[1] || ""))],
  [/^#\/ledger\/([^/]+)$/, "transactions", (m) => (el, ctx) => renderEntry(el, ctx, decodeURIComponent(m[1]))],
];

async function route() {
  if (!session.role) return;
  if (cleanup) { cleanup(); cleanup = null; }
  destroyCharts();
  const hash = window.location.hash || "#/fleet";
  let match = null;
  let found = ROUTES.find(([re]) => (match = hash.match(re)));
  if (!found) { window.location.hash = "#/fleet"; return; }
  const [, nav, make] = found;
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
  clear(view);
  const ctx = { session, onLive, setCleanup: (fn) => { cleanup = fn; } };
  try {
    await make(match)(view, ctx);
  } catch (error) {
    if (error && error.status === 401) return;
    console.error(error);
    view.append(Object.assign(document.createElement("div"), { className: "notice", textContent: `Could not load this view: ${error.message}` }));
  }
}

async function signedIn(who) {
  session.role = who.role;
  session.actor = who.actor;
  session.readOnly = who.read_only;
  setCsrf(who.csrf_token);
  document.body.classList.toggle("read-only", who.read_only);
  document.getElementById("topbar").hidden = false;
  document.getElementById("whoami").textContent = who.read_only ? `${who.actor} · read-only` : who.actor;
  startLive();
  refreshAlertCount();
  if (!window.location.hash || window.location.hash === "#/login") window.location.hash = "#/fleet";
  else route();
}

function signedOut(message) {
  stopLive();
  session.role = null;
  setCsrf(null);
  destroyCharts();
  document.getElementById("topbar").hidden = true;
  clear(view);
  renderSignIn(view, { message, onSignedIn: signedIn });
}

async function boot() {
  applyTheme(localStorage.getItem(THEME_KEY));
  document.getElementById("theme-toggle").addEventListener("click", toggleTheme);
  document.getElementById("sign-out").addEventListener("click", async () => {
    try { await del("/web/session"); } catch (error) { toast(error.message, { bad: true }); }
    window.location.hash = "";
    signedOut("You are signed out.");
  });
  onSignedOut(() => signedOut("Your session has ended; sign in again."));
  onLive((kind) => { if (kind === "signedout") signedOut("Your session has ended; sign in again."); });
  onLive((kind) => { if (kind === "alert" || kind === "poll") refreshAlertCount(); });
  window.addEventListener("hashchange", route);
  try {
    await signedIn(await get("/web/session"));
  } catch {
    signedOut(null);
  }
}

boot();
