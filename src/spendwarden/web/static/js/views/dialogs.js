// Confirmation dialogs: halt, resume and revoke need a reason; caps are edited in a form
// that sends only what changed (an empty field removes the cap).
import { h, toast } from "../dom.js";
import { post, patch } from "../api.js";
import { exact, toMicros } from "../money.js";
import { label } from "../fmt.js";

const CAPS = ["per_transaction", "per_task", "hourly", "daily", "weekly", "monthly", "total"];

function openDialog(form) {
  const dialog = h("dialog", { "aria-modal": "true" }, form);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
  return dialog;
}

function errorLine() {
  return h("div", { class: "error", role: "alert", style: { color: "var(--bad)", fontSize: "13px", minHeight: "18px" } });
}

export function actionDialog({ title, verb, body, path, danger = false, onDone }) {
  const reason = h("textarea", { name: "reason", required: true, minlength: "1", maxlength: "500", placeholder: "Why? (kept in the audit log)" });
  const error = errorLine();
  const confirm = h("button", { class: `btn ${danger ? "btn-danger solid" : "btn-primary"}`, type: "submit", id: "confirm-action" }, verb);
  let dialog = null;
  const form = h("form", {
    method: "dialog",
    onsubmit: async (event) => {
      event.preventDefault();
      if (!reason.value.trim()) { error.textContent = "A reason is required."; reason.focus(); return; }
      confirm.disabled = true;
      try {
        await post(path, { reason: reason.value.trim() });
        dialog.close();
        toast(`${verb}: done.`);
        onDone && onDone();
      } catch (failure) {
        error.textContent = failure.message;
        confirm.disabled = false;
      }
    },
  },
  h("h3", {}, title), h("p", { class: "muted", style: { margin: 0 } }, body),
  h("label", { class: "field" }, "Reason", reason), error,
  h("div", { class: "actions" }, h("button", { class: "btn", type: "button", onclick: () => dialog.close() }, "Cancel"), confirm));
  dialog = openDialog(form);
  reason.focus();
}

export function capsDialog(agent, onDone) {
  const inputs = {};
  const fields = CAPS.map((cap) => {
    inputs[cap] = h("input", { name: cap, inputmode: "decimal", placeholder: "no cap", value: agent.caps[cap] !== undefined ? agent.caps[cap] : "", pattern: "^\\d+(\\.\\d{1,6})?$" });
    return h("label", { class: "field" }, `${label(cap)} (USD)`, inputs[cap]);
  });
  const reason = h("input", { name: "reason", placeholder: "Why? (optional, kept in the audit log)", maxlength: "500" });
  const error = errorLine();
  let dialog = null;
  const form = h("form", {
    method: "dialog",
    onsubmit: async (event) => {
      event.preventDefault();
      const caps = {};
      for (const cap of CAPS) {
        const raw = inputs[cap].value.trim();
        const before = agent.caps[cap];
        if (raw === "" && before !== undefined) caps[cap] = null;
        else if (raw !== "" && (before === undefined || toMicros(raw) !== toMicros(before))) caps[cap] = exact(toMicros(raw));
      }
      if (!Object.keys(caps).length) { dialog.close(); return; }
      try {
        const body = { caps };
        if (reason.value.trim()) body.reason = reason.value.trim();
        await patch(`/v1/agents/${encodeURIComponent(agent.id)}`, body);
        dialog.close();
        toast("Caps updated.");
        onDone && onDone();
      } catch (failure) {
        error.textContent = failure.message;
      }
    },
  },
  h("h3", {}, `Caps of ${agent.id}`),
  h("p", { class: "muted", style: { margin: 0 } }, "Amounts in USD with up to 6 decimals. Leave a field empty for no cap."),
  h("div", { class: "caps-form" }, fields), h("label", { class: "field" }, "Reason", reason), error,
  h("div", { class: "actions" }, h("button", { class: "btn", type: "button", onclick: () => dialog.close() }, "Cancel"), h("button", { class: "btn btn-primary", type: "submit", id: "save-caps" }, "Save caps")));
  dialog = openDialog(form);
}
