// Plot-ratio requests on the page: the submit form, the actions a user may take on a request, and the rule
// errors in plain words with their numbers. The server decides; these checks only hide buttons that would
// surely be refused.

import { api, auth } from "./api.js";
import { t, has, num } from "./i18n.js";
import { el, esc } from "./dom.js";

/** A refused request in the user's words: the rule's sentence with its numbers; where the page's sentence
 * has no numbers of its own (a validation error, say), the server's detail follows it. */
export function explain(error) {
  const p = error.problem || {};
  const key = `err.${error.code}`;
  if (!has(key)) return t("error.generic", { detail: p.detail || error.message });
  const words = t(key, numbers(p));
  return words === t(key) && p.detail ? `${words} (${p.detail})` : words;
}

function numbers(problem) {
  const out = {};
  for (const [k, v] of Object.entries(problem)) out[k] = typeof v === "number" ? num(v) : v;
  if (out.contract_status) out.contract_status = t(`contract.status.${problem.contract_status}`);
  if (out.status && typeof problem.status === "string") out.status = t(`req.status.${problem.status}`);
  return out;
}

export function canSubmit(parcel) {
  const u = auth.user;
  return !!u && (u.role === "bureau" || (u.role === "district_officer" && u.district_code === parcel.district_code));
}

function sameDistrict(req) {
  const u = auth.user;
  return u.role === "bureau" || (u.role === "district_officer" && u.district_code === req.district_code);
}

const OPEN = new Set(["submitted", "public_notice"]);

/** Which actions the current user may take on `req`. */
export function actionsFor(req) {
  const u = auth.user;
  if (!u || !OPEN.has(req.status)) return [];
  const mine = u.username.toLowerCase() === req.submitted_by.toLowerCase();
  const out = [];
  if (req.status === "submitted" && sameDistrict(req)) out.push("notice");
  const decider = req.route === "city" ? u.role === "bureau" : sameDistrict(req);
  if (req.status === "public_notice" && decider && !mine) out.push("approve", "reject");
  if (mine) out.push("withdraw");
  return out;
}

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

/** The action buttons of one request; `done(updated)` after a successful action, errors in `status`. */
export function requestActions(req, done) {
  const box = el("div", { class: "actions" });
  const status = el("p", { class: "error", role: "alert", hidden: true });
  const run = async (path, body) => {
    status.hidden = true;
    try {
      const updated = await api(`/plot-ratio-requests/${req.id}/${path}`, { method: "POST", body });
      done(updated);
    } catch (error) {
      status.textContent = explain(error);
      status.hidden = false;
    }
  };
  for (const action of actionsFor(req)) {
    if (action === "notice") {
      const today = new Date();
      const start = el("input", { type: "date", value: isoDay(today), "aria-label": t("req.notice_from") });
      const end = el("input", { type: "date", value: isoDay(new Date(today.getTime() + 9 * 864e5)),
                                "aria-label": t("req.notice_to") });
      const button = el("button", { type: "button", "data-action": "notice" }, t("req.notice"));
      button.addEventListener("click", () => run("notice", { starts_on: start.value, ends_on: end.value }));
      box.append(el("span", { class: "notice" }, t("req.notice_from"), " ", start, " ", t("req.notice_to"), " ", end),
                 button);
    } else {
      const button = el("button", { type: "button", "data-action": action,
                                    class: action === "approve" ? "primary" : "" }, t(`req.${action}`));
      const path = action === "withdraw" ? "withdraw" : "decision";
      const body = action === "withdraw" ? undefined : { decision: action };
      button.addEventListener("click", () => run(path, body));
      box.append(button);
    }
  }
  box.append(status);
  return box;
}

/** The form that submits a request for `parcel`; `done(request)` after it is accepted. */
export function requestForm(parcel, done) {
  const form = el("form", { class: "request-form", id: "request-form", novalidate: true });
  form.innerHTML = `
    <h3>${esc(t("req.new"))}</h3>
    <label>${esc(t("req.requested"))}
      <input name="requested_plot_ratio" type="number" step="0.01" min="0.01" required
             value="${esc(String(Math.min((parcel.plot_ratio_cap ?? 2), (parcel.plot_ratio ?? 0) + 0.2).toFixed(2)))}"></label>
    <label>${esc(t("req.reason"))}<textarea name="reason" rows="2" required></textarea></label>
    <label>${esc(t("req.reference"))}<input name="reference_parcel_id" type="number" min="1" step="1"></label>
    <p class="error" role="alert" hidden></p>
    <p class="ok" role="status" hidden></p>
    <button type="submit" class="primary">${esc(t("req.submit"))}</button>`;
  const [error, ok] = [form.querySelector(".error"), form.querySelector(".ok")];
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = ok.hidden = true;
    const data = new FormData(form);
    const body = { parcel_id: parcel.id, requested_plot_ratio: Number(data.get("requested_plot_ratio")),
                   reason: String(data.get("reason") || "").trim() };
    if (data.get("reference_parcel_id")) body.reference_parcel_id = Number(data.get("reference_parcel_id"));
    try {
      const created = await api("/plot-ratio-requests", { method: "POST", body });
      ok.textContent = t("req.submitted", { id: created.id, route: t(`req.route.${created.route}`) });
      ok.hidden = false;
      done(created);
    } catch (e) {
      error.textContent = explain(e);
      error.hidden = false;
    }
  });
  return form;
}
