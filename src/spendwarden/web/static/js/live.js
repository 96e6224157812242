// The live stream: one EventSource on /v1/stream (the session cookie authenticates it),
// reconnecting with backoff. When the server has no stream, fall back to polling so the
// page still refreshes, and say so in the header.
const listeners = new Set();
let source = null;
let retryMs = 1000;
let pollTimer = null;
let stopped = false;

export function onLive(handler) {
  listeners.add(handler);
  return () => listeners.delete(handler);
}

function emit(kind, payload, name = null) {
  for (const handler of listeners) {
    try { handler(kind, payload, name); } catch (error) { console.error("live handler failed", error); }
  }
}

function setState(state, label) {
  const el = document.getElementById("live");
  if (!el) return;
  el.dataset.state = state;
  el.lastElementChild.textContent = label;
}

export function startLive() {
  stopped = false;
  connect();
}

export function stopLive() {
  stopped = true;
  if (source) source.close();
  source = null;
  clearInterval(pollTimer);
  pollTimer = null;
}

// HEAD answers 404 only when the server has no stream route at all (405/200 means it has one).
async function streamStatus() {
  try {
    const response = await fetch("/v1/stream", { method: "HEAD", credentials: "same-origin" });
    return response.status;
  } catch {
    return 0;
  }
}

async function connect() {
  if (stopped) return;
  setState("connecting", "Connecting");
  source = new EventSource("/v1/stream", { withCredentials: true });
  source.onopen = () => {
    retryMs = 1000;
    clearInterval(pollTimer);
    pollTimer = null;
    setState("live", "Live");
  };
  for (const kind of ["transaction", "alert", "agent"]) {
    source.addEventListener(kind, (event) => {
      let frame = null;
      try { frame = JSON.parse(event.data); } catch { frame = null; }
      // Frames are {"name": "alert.opened", "data": {...}}; handlers get the data and the name.
      emit(kind, frame && "data" in frame ? frame.data : frame, frame && frame.name);
    });
  }
  source.onerror = async () => {
    source.close();
    source = null;
    if (stopped) return;
    const status = await streamStatus();
    if (status === 401) return emit("signedout", null);
    if (status === 404) return fallbackToPolling();
    setState("offline", "Reconnecting");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  };
}

function fallbackToPolling() {
  setState("polling", "Polling");
  if (!pollTimer) pollTimer = setInterval(() => emit("poll", null), 5000);
}
