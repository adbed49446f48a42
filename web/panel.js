// The parcel panel: what a district officer needs to know about one parcel, from the REST API, and the
// plot-ratio request form where the user may submit one.

import { api } from "./api.js";
import { el, section, table } from "./dom.js";
import { num, placeName, ratio, t } from "./i18n.js";
import { canSubmit, requestActions, requestForm } from "./requests.js";

const SQM_PER_MU = 10000 / 15;

/** Load everything about parcel `id` and render it into `panel`; resolves with the parcel feature, or
 * null when another parcel was asked for meanwhile. */
export async function renderParcel(panel, id, { districts, onClose, onChanged }) {
  panel.hidden = false;
  panel.replaceChildren(el("p", { class: "muted" }, t("panel.loading")));
  // A later click wins: an earlier parcel whose answers arrive last must not overwrite it.
  const turn = (renderParcel.turn = (renderParcel.turn || 0) + 1);
  const feature = await api(`/parcels/${id}`);
  const p = { id: feature.id, ...feature.properties };
  const [zone, contracts, evaluations, requests, history, ratings] = await Promise.all([
    p.zone_id ? api(`/zones/${p.zone_id}`).catch(() => null) : null,
    api(`/contracts?parcel_id=${id}&limit=20`),
    api(`/evaluations?parcel_id=${id}&limit=200`),
    api(`/plot-ratio-requests?parcel_id=${id}&limit=50`),
    api(`/parcels/${id}/history`),
    // The holding enterprise's latest 亩均 class, for a reader who may see it (else no section).
    api(`/ratings?parcel_id=${id}&limit=1`).catch(() => null),
  ]);
  if (turn !== renderParcel.turn) return null;
  const reload = () => { onChanged(p); renderParcel(panel, id, { districts, onClose, onChanged }); };

  const close = el("button", { type: "button", class: "ghost close", "aria-label": t("panel.close") }, "×");
  close.addEventListener("click", onClose);
  const header = el("header", {}, el("h2", { id: "panel-title" }, t("panel.title", { code: p.code })), close);

  const current = contracts.items.find((c) => !["terminated", "expired"].includes(c.status)) || contracts.items[0];
  const ofContract = current ? evaluations.items.filter((e) => e.contract_id === current.id) : [];
  const latest = ofContract.filter((e) => e.status === "completed").at(-1);
  const next = ofContract.find((e) => e.status === "scheduled" || e.status === "overdue");
  const glance = badges(p, current, latest, next);

  const facts = dl([
    [t("panel.code"), p.code],
    [t("panel.district"), placeName(districts.get(p.district_code)) + ` (${p.district_code ?? "–"})`],
    [t("panel.tier"), el("span", { class: `tier tier-${p.tier}`, "data-field": "tier" }, t(`tier.${p.tier}`))],
    [t("panel.zone"), zone ? `${zone.properties.name} (${zone.properties.code})` : "–"],
    [t("panel.land_use"), t(`land_use.${p.land_use}`)],
    [t("panel.area"), `${num(p.area_m2, 0)} m² · ${num(p.area_m2 / SQM_PER_MU, 1)} ${t("unit.mu")}`],
    [t("panel.plot_ratio"), el("span", { "data-field": "plot_ratio" }, ratio(p.plot_ratio))],
    [t("panel.cap"), el("span", { "data-field": "cap" }, p.plot_ratio_cap === null ? "–"
      : `${ratio(p.plot_ratio_cap)} (${t("panel.cap_source", { source: t(`cap_source.${p.plot_ratio_cap_source}`) })})`)],
    [t("panel.status"), t(`status.${p.status}`)],
    [t("panel.lock"), p.planning_locked ? t("panel.locked") : t("panel.unlocked")],
  ]);

  const contract = current ? contractBlock(current, latest) : el("p", { class: "muted" }, t("panel.no_contract"));

  const past = evaluations.items.filter((e) => e.status === "completed");
  const due = evaluations.items.filter((e) => e.status === "scheduled" || e.status === "overdue");
  const evalBlock = el("div", {},
    el("h3", {}, t("panel.due")),
    due.length ? table([
      [t("col.stage"), (e) => t(`stage.${e.stage}`)],
      [t("col.due"), (e) => e.due_on],
      [t("col.status"), (e) => t(`eval.status.${e.status}`)],
    ], due) : el("p", { class: "muted" }, t("panel.none")),
    el("h3", {}, t("panel.past")),
    past.length ? table([
      [t("col.stage"), (e) => t(`stage.${e.stage}`)],
      [t("col.due"), (e) => e.evaluated_on || e.due_on],
      [t("col.status"), (e) => (e.outcome ? t(`outcome.${e.outcome}`) : "–")],
      [t("col.sources"), (e) => measuredSources(e)],
    ], past.slice().reverse()) : el("p", { class: "muted" }, t("panel.none")));

  const reqRows = requests.items.slice().reverse();
  const reqBlock = el("div", { id: "parcel-requests" },
    reqRows.length ? el("ul", { class: "requests" }, ...reqRows.map((r) => el("li", { "data-request": r.id },
      el("strong", {}, `#${r.id} `), `${ratio(r.current_plot_ratio)} → ${ratio(r.requested_plot_ratio)} · `,
      el("span", { class: `badge req-${r.status}` }, t(`req.status.${r.status}`)), ` · ${t(`req.route.${r.route}`)}`,
      requestActions(r, reload)))) : el("p", { class: "muted" }, t("panel.none")));
  if (canSubmit(p) && p.land_use !== "office" && p.land_use !== "commercial") {
    reqBlock.append(requestForm(p, reload));
  }

  const historyBlock = table([
    [t("panel.version"), (v) => String(v.properties.version)],
    [t("panel.valid_from"), (v) => v.properties.valid_from.slice(0, 10)],
    [t("panel.valid_to"), (v) => (v.properties.valid_to ? v.properties.valid_to.slice(0, 10) : t("panel.now"))],
    [t("panel.status"), (v) => t(`status.${v.properties.status}`)],
    [t("panel.plot_ratio"), (v) => ratio(v.properties.plot_ratio), { numeric: true }],
  ], history.features.slice().reverse());

  panel.replaceChildren(header, glance,
    section(t("panel.facts"), facts),
    section(t("panel.contract"), contract),
    ...(ratings?.items.length ? [section(t("panel.rating"), ratingBlock(ratings.items[0]))] : []),
    section(t("panel.evaluations"), evalBlock),
    section(t("panel.requests"), reqBlock),
    section(t("panel.history"), historyBlock));
  panel.dataset.parcel = String(id);
  return feature;
}

function dl(rows) {
  const list = el("dl", { class: "facts" });
  for (const [term, value] of rows) list.append(el("dt", {}, term), el("dd", {}, value ?? "–"));
  return list;
}

/** At a glance: locked, at the cap, evaluation due or overdue, failing (below the bottom line, rectification). */
function badges(p, contract, latest, next) {
  const out = [];
  if (p.planning_locked) out.push(["locked", t("badge.locked")]);
  if (p.plot_ratio !== null && p.plot_ratio_cap !== null && p.plot_ratio >= p.plot_ratio_cap) {
    out.push(["capped", t("badge.capped", { cap: ratio(p.plot_ratio_cap) })]);
  }
  if (next) out.push([next.status, t(`badge.${next.status}`, { date: next.due_on })]);
  if (contract?.status === "rectification") {
    out.push(["failing", t("badge.rectification", { date: contract.rectify_by || "–" })]);
  } else if (latest?.outcome === "below_bottom_line") {
    out.push(["failing", t("badge.below", { date: latest.evaluated_on })]);
  }
  return el("p", { class: "glance", "aria-label": t("badge.label") },
    ...out.map(([kind, text]) => el("span", { class: `badge glance-${kind}`, "data-badge": kind }, text)));
}

/** Where a measured value came from (SPEC §5 measurement_sources): typed in, or a department's batch. */
function sourceLabel(src) {
  const text = src.source === "entered"
    ? t("source.entered", { by: src.by || "–" })
    : t("source.delivered", {
      source: src.source.split("+").map((s) => t(`source.${s}`)).join(" + "),
      year: src.year, batches: (src.batches || []).map((b) => `#${b}`).join(", "),
    });
  return el("small", { class: "muted source", "data-source": src.source }, text);
}

/** Each measured value of a completed evaluation with its source, one line each. */
function measuredSources(e) {
  const codes = Object.keys(e.measurements || {}).sort();
  if (!codes.length) return "–";
  return el("span", { class: "sources" }, ...codes.flatMap((code, k) => [
    ...(k ? [el("br")] : []), `${t(`indicator.${code}`)} ${num(e.measurements[code])} `,
    e.measurement_sources?.[code] ? sourceLabel(e.measurement_sources[code]) : "",
  ]));
}

function contractBlock(c, latest) {
  const measured = (i) => {
    const a = latest?.attainment?.[i.code];
    if (!a || a.measured === null || a.measured === undefined) return "–";
    const value = `${num(a.measured)} ${a.met ? "✓" : "✗"}`;
    const src = latest.measurement_sources?.[i.code];
    return src ? el("span", {}, value, " ", sourceLabel(src)) : value;
  };
  const indicators = table([
    [t("panel.indicator"), (i) => t(`indicator.${i.code}`)],
    [t("panel.target"), (i) => `${i.comparator === ">=" ? "≥" : "≤"} ${num(i.target)} ${i.unit}`, { numeric: true }],
    [latest ? t("panel.latest", { date: latest.evaluated_on }) : t("panel.latest.none"), measured, { numeric: true }],
  ], c.indicators);
  return el("div", {},
    dl([
      [t("col.contract"), `${c.code} · ${t(`contract.status.${c.status}`)}`],
      [t("panel.enterprise"), c.enterprise_name],
      [t("panel.term"), t("panel.signed", { date: c.signed_on, expires: c.expires_on })],
    ]),
    el("h3", {}, t("panel.indicators")), indicators);
}

/** The enterprise's latest 亩均 rating: class, year, score, rank in its group, or why it is not rated. */
function ratingBlock(r) {
  const cls = r.class
    ? el("span", { class: `badge rating-${r.class}`, "data-field": "rating" }, t(`rating.class.${r.class}`))
    : el("span", { class: "muted", "data-field": "rating" }, t(`rating.unrated.${r.unrated_reason}`));
  return dl([
    [t("panel.rating.class", { year: r.year }), cls],
    [t("panel.rating.score"), r.score === null ? "–" : num(r.score, 2)],
    [t("panel.rating.rank"), r.rank === null ? "–"
      : t("panel.rating.of", { rank: r.rank, size: r.group_size, district: r.district_code ?? "–" })],
    [t("panel.rating.land"), `${num(r.land_mu, 1)} ${t("unit.mu")}`],
    [t("panel.rating.listed"), r.rectification ? t("panel.rating.rectification") : "–"],
  ]);
}
