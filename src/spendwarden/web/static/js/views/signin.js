// Sign-in: trade the admin (or a viewer) token for an HttpOnly session cookie.
import { request } from "../api.js";
import { h } from "../dom.js";

export function renderSignIn(root, { message, onSignedIn }) {
  const error = h("div", { class: "error", role: "alert" }, message || "");
  const input = h("input", {
    type: "password", name: "token", id: "token", autocomplete: "current-password", required: true,
    placeholder: "sw_admin_… or sw_viewer_…", "aria-label": "Admin or viewer token",
  });
  const button = h("button", { class: "btn btn-primary", type: "submit" }, "Sign in");
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      error.textContent = "";
      try {
        const who = await request("POST", "/web/session", { body: { token: input.value.trim() } });
        input.value = "";
        await onSignedIn(who);
      } catch (failure) {
        error.textContent = failure.status === 401 ? "That token is not valid." : failure.message;
        button.disabled = false;
        input.focus();
      }
    },
  },
  h("label", { class: "field", for: "token" }, "Access token", input),
  error,
  button);
  root.append(h("div", { class: "signin" },
    h("div", { class: "card" },
      h("div", { class: "brand" }, h("img", { src: "/static/img/favicon.svg", alt: "", width: 26, height: 26 }), h("span", {}, "Spendwarden")),
      h("p", { class: "lede" }, "Live control of what your AI agents spend. Sign in with the admin token, or a viewer token for a read-only view."),
      form,
      h("p", { class: "faint", style: { fontSize: "12px", margin: "16px 0 0" } },
        "Create a viewer token with ", h("code", {}, "spendwarden tokens create viewer"), "."))));
  input.focus();
}
