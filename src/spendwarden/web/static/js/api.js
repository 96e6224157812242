// Same-origin fetches with the session cookie; every change carries X-CSRF-Token.
let csrfToken = null;
let onUnauthenticated = () => {};

export function setCsrf(token) { csrfToken = token; }
export function onSignedOut(handler) { onUnauthenticated = handler; }

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `Request failed (${status})`);
    this.status = status;
    this.code = err.code || "http_error";
    this.details = err.details || {};
  }
  // A route the server does not have (an optional part not installed) answers a bare 404/405.
  get missingRoute() {
    return (this.status === 404 && this.message === "Not Found") || this.status === 405;
  }
}

function url(path, params) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "") u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

export async function request(method, path, { params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(url(path, params), {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && path !== "/web/session") onUnauthenticated(error);
    throw error;
  }
  return data;
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body) => request("POST", path, { body: body ?? {} });
export const patch = (path, body) => request("PATCH", path, { body });
export const del = (path) => request("DELETE", path);

// For parts that may not be installed yet: resolves to {data} or {missing, reason}, never throws.
export async function optional(path, params) {
  try {
    return { data: await get(path, params) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    const reason = error instanceof ApiError && error.missingRoute
      ? `${path} is not served by this version of Spendwarden.`
      : `${path}: ${error.message}`;
    return { missing: true, reason };
  }
}
