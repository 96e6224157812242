// Tiny DOM builder: every piece of text goes in through textContent, never innerHTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  return append(clear(el), children);
}

export function panel(title, body, { hint = null, actions = null, cls = "" } = {}) {
  return h("section", { class: `panel ${cls}` },
    h("div", { class: "panel-head" }, h("h2", {}, title), hint ? h("span", { class: "hint" }, hint) : null, actions),
    body);
}

// The graceful fallback when an endpoint has not shipped or failed: a clear panel body.
export function unavailable(what, why = "This server does not provide it yet.") {
  return h("div", { class: "unavailable", role: "note" }, h("strong", {}, `${what} not available`), h("span", {}, why));
}

export function badge(text, kind = text) {
  return h("span", { class: `badge b-${kind}` }, text);
}

export function toast(message, { bad = false, ms = 3500 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h("div", { class: `toast${bad ? " bad" : ""}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

export function bar(ratio) {
  const pct = Math.max(0, Math.min(1, Number(ratio) || 0)) * 100;
  const cls = pct >= 100 ? "bad" : pct >= 80 ? "warn" : "";
  return h("div", { class: `bar ${cls}`, role: "progressbar", "aria-valuenow": pct.toFixed(0), "aria-valuemin": "0", "aria-valuemax": "100" },
    h("span", { style: { width: `${pct.toFixed(1)}%` } }));
}
