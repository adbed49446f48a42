// A district's (or, for the bureau, the city's; for an org_manager its organisation's) queues: open plot-ratio requests, evaluations due and
// overdue, contracts in rectification and exit candidates, each a table with links to the parcel.

import { api, auth, qs } from "./api.js";
import { DUE_DAYS } from "./dashboard.js";
import { el, section, table } from "./dom.js";
import { num, placeName, ratio, t } from "./i18n.js";
import { requestActions } from "./requests.js";

const PAGE = 50;

export async function renderQueues(root, { districts, openParcel }) {
  const district = auth.user.role === "bureau" || auth.user.role === "admin" ? null : auth.user.district_code;
  const scope = district ? { district_code: district } : {};
  root.replaceChildren(el("p", { class: "muted" }, t("panel.loading")));
  // An org_manager's queues are its organisation's contracts (the REST scope, SPEC §4): named as such.
  const org = auth.user.role === "org_manager" ? await api(`/organisations/${auth.user.organisation_id}`) : null;
  const [submitted, notice, pending, rectification, exits] = await Promise.all([
    api(`/plot-ratio-requests${qs({ ...scope, status: "submitted", limit: PAGE })}`),
    api(`/plot-ratio-requests${qs({ ...scope, status: "public_notice", limit: PAGE })}`),
    // Overdue first, then due within the horizon, counted from the server's today (as the dashboard).
    api(`/reports/evaluations-due${qs({ ...scope, within_days: DUE_DAYS, limit: PAGE })}`),
    api(`/contracts${qs({ ...scope, status: "rectification", limit: PAGE })}`),
    api(`/exit-candidates${qs({ ...scope, limit: PAGE })}`),
  ]);
  const parcelLink = (id, code) => {
    const a = el("a", { href: `#/map/parcel/${id}`, "data-parcel": id }, code);
    a.addEventListener("click", (e) => { e.preventDefault(); openParcel(id); });
    return a;
  };
  const requestRows = [...submitted.items, ...notice.items].sort((a, b) => a.id - b.id);
  const openRequests = submitted.numberMatched + notice.numberMatched;
  const reload = () => renderQueues(root, { districts, openParcel });

  const requests = requestRows.length ? table([
    ["#", (r) => String(r.id)],
    [t("col.parcel"), (r) => parcelLink(r.parcel_id, r.parcel_code)],
    [t("col.district"), (r) => placeName(districts.get(r.district_code))],
    [t("col.current"), (r) => ratio(r.current_plot_ratio), { numeric: true }],
    [t("col.requested"), (r) => ratio(r.requested_plot_ratio), { numeric: true }],
    [t("col.route"), (r) => t(`req.route.${r.route}`)],
    [t("col.status"), (r) => el("span", { class: `badge req-${r.status}` }, t(`req.status.${r.status}`))],
    [t("col.submitted_by"), (r) => r.submitted_by],
    [t("col.age"), (r) => t("req.age", { days: r.age_days }), { numeric: true }],
    [t("col.actions"), (r) => requestActions(r, reload)],
  ], requestRows, { id: "queue-requests", class: "queue" }) : empty();

  const evalRows = pending.items;
  const evaluations = evalRows.length ? table([
    [t("col.parcel"), (e) => parcelLink(e.parcel_id, e.parcel_code)],
    [t("col.contract"), (e) => e.contract_code],
    [t("col.enterprise"), (e) => e.enterprise_name],
    [t("col.stage"), (e) => t(`stage.${e.stage}`)],
    [t("col.due"), (e) => e.due_on],
    [t("col.overdue"), (e) => (e.overdue ? t("req.age", { days: e.days_overdue }) : "–"), { numeric: true }],
  ], evalRows, { id: "queue-evaluations", class: "queue" }) : empty();

  const contracts = rectification.items.length ? table([
    [t("col.parcel"), (c) => parcelLink(c.parcel_id, c.parcel_code)],
    [t("col.contract"), (c) => c.code],
    [t("col.enterprise"), (c) => c.enterprise_name],
    [t("col.rectify_by"), (c) => c.rectify_by || "–"],
  ], rectification.items, { id: "queue-rectification", class: "queue" }) : empty();

  const candidates = exits.items.length ? table([
    [t("col.parcel"), (x) => parcelLink(x.parcel_id, x.parcel_code)],
    [t("col.contract"), (x) => x.contract_code],
    [t("col.enterprise"), (x) => x.enterprise_name],
    [t("col.reason"), (x) => t(`reason.${x.reason}`)],
    [t("col.since"), (x) => x.since || "–"],
  ], exits.items, { id: "queue-exits", class: "queue" }) : empty();

  const more = (page, rows) => (page.numberMatched > rows ? el("p", { class: "muted" },
    t("queues.more", { shown: rows, total: page.numberMatched })) : null);
  const title = org ? t("queues.scope.organisation", { name: org.name })
    : district ? t("queues.scope.district", { name: placeName(districts.get(district)) })
      : t("queues.scope.city");
  root.replaceChildren(
    el("h1", {}, `${t("queues.title")} · ${title}`),
    section(`${t("queues.requests")} (${openRequests})`, requests,
            more({ numberMatched: openRequests }, requestRows.length)),
    section(`${t("queues.evaluations")} (${pending.overdue} + ${pending.due - pending.overdue})`, evaluations,
            more(pending, pending.items.length)),
    section(`${t("queues.rectification")} (${rectification.numberMatched})`, contracts,
            more(rectification, rectification.items.length)),
    section(`${t("queues.exits")} (${exits.numberMatched})`, candidates, more(exits, exits.items.length)),
  );
}

function empty() {
  return el("p", { class: "muted" }, t("queues.empty"));
}
