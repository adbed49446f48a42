// The bureau's dashboard (rule 11): industrial land by tier and district against 550 / 320–480 / 150 km²,
// the path to 2035, the evaluation and exit pipelines and the A–D classes — charts with their numbers,
// every number read from the reports API (the browser test holds them equal).

import { api, download, qs } from "./api.js";
import { bars, lines } from "./charts.js";
import { el, section, table } from "./dom.js";
import { num, placeName, t } from "./i18n.js";
import { PALETTES } from "./map.js";

const REASONS = ["repeated_below_bottom_line", "failed_rectification", "expired", "idle_land", "repeated_class_d"];
const CLASS_COLOURS = { A: "#15803d", B: "#1f5fbf", C: "#d97706", D: "#dc2626" };
export const DUE_DAYS = 90; // evaluations "due" within this many days (the queues too)

export async function renderDashboard(root, { districts }) {
  root.replaceChildren(el("p", { class: "muted" }, t("panel.loading")));
  const [land, due, efficiency, rectification, casesOpen, casesDone, accountable, ...byReason] = await Promise.all([
    api("/reports/industrial-land"),
    api(`/reports/evaluations-due${qs({ within_days: DUE_DAYS, limit: 0 })}`),
    api("/reports/efficiency?limit=0"),
    api("/contracts?status=rectification&limit=0"),
    api("/exit-cases?status=open&limit=0"),
    api("/exit-cases?status=completed&limit=0"),
    api("/reports/accountability"),
    ...REASONS.map((reason) => api(`/exit-candidates?reason=${reason}&limit=0`)),
  ]);
  const history = await landHistory(Number(land.as_of.slice(0, 4)));
  const total = land.total;
  const base = land.base_for_advanced_manufacturing;

  const targets = el("div", { class: "chart-row" },
    el("div", { class: "charts" },
      bars({
        title: t("dash.total"), unit: "km²",
        items: [{ label: t("dash.total.short"), value: total.km2, colour: "#1f5fbf" }],
        band: [total.band_2035_km2[0], total.band_2035_km2[1], t("dash.band2035")],
        markers: [{ value: total.target_2020_km2, label: t("dash.target2020") }],
      }),
      bars({
        title: t("dash.base_am"), unit: "km²",
        items: [{ label: t("dash.base_am.short"), value: base.km2, colour: "#6d28d9" }],
        markers: [{ value: base.target_2025_min_km2, label: t("dash.target2025") }],
      })),
    el("dl", { class: "figures" },
      el("dt", {}, t("dash.total")),
      metric("total-km2", total.km2, "km²", total.within_2035_band ? t("dash.within_band") : t("dash.outside_band")),
      el("dt", {}, t("dash.base_am")),
      metric("base-am-km2", base.km2, "km²", base.met ? t("dash.met") : t("dash.not_met")),
      el("dt", {}, t("col.parcels")), metric("total-parcels", total.parcels, "", null, 0)));

  const tierItems = land.by_tier.map((r) => ({ label: t(`tier.${r.tier}`), value: r.km2, colour: PALETTES.tier[r.tier] }));
  const byTier = el("div", { class: "chart-row" },
    bars({ title: t("dash.by_tier"), items: tierItems, unit: "km²" }),
    table([
      [t("col.tier"), (r) => t(`tier.${r.tier}`)],
      [t("col.parcels"), (r) => num(r.parcels, 0), { numeric: true }],
      [t("col.km2"), (r) => num(r.km2, 2), { numeric: true, value: (r) => r.km2 }],
    ], land.by_tier, { id: "table-tier", class: "numbers" }));

  const districtRows = land.by_district.slice().sort((a, b) => b.km2 - a.km2);
  const byDistrict = el("div", { class: "chart-row" },
    bars({ title: t("dash.by_district"), unit: "km²",
           items: districtRows.map((r) => ({ label: placeName(r), value: r.km2, colour: "#3b6ea5" })) }),
    table([
      [t("col.district"), (r) => placeName(r)],
      [t("col.parcels"), (r) => num(r.parcels, 0), { numeric: true }],
      [t("col.km2"), (r) => num(r.km2, 2), { numeric: true, value: (r) => r.km2 }],
    ], districtRows, { id: "table-district", class: "numbers" }));

  const year = Number(land.as_of.slice(0, 4));
  const [bandLo, bandHi] = total.band_2035_km2;
  const goal = total.km2 > bandHi ? bandHi : total.km2 < bandLo ? bandLo : total.km2;
  const perYear = (goal - total.km2) / Math.max(1, 2035 - year);
  const trajectory = el("div", { class: "chart-row" },
    lines({
      title: t("dash.trajectory"), from: Math.min(2017, ...history.map((h) => h[0])), to: 2035,
      band: [bandLo, bandHi],
      series: [{ points: [...history, [year, total.km2]], colour: "#1f5fbf" },
               { points: [[year, total.km2], [2035, goal]], colour: "#1f5fbf", dashed: true }],
      markers: [{ year: 2020, value: total.target_2020_km2, label: "550" }],
    }),
    el("div", {},
      el("p", { class: "muted" }, t("dash.trajectory.note")),
      el("p", { "data-metric": "per-year", "data-value": perYear.toFixed(3) },
         t("dash.per_year", { value: num(perYear, 1), target: num(goal, 0) })),
      table([[t("col.year"), (h) => String(h[0])], [t("col.km2"), (h) => num(h[1], 2), { numeric: true }]],
            [...history, [year, total.km2]], { class: "numbers" })));

  const stages = {};
  for (const d of due.by_district || []) {
    for (const [stage, n] of Object.entries(d.by_stage || {})) stages[stage] = (stages[stage] || 0) + n;
  }
  const evaluations = el("div", { class: "chart-row" },
    bars({ title: t("dash.evaluations", { days: DUE_DAYS }), digits: 0, items: [
      { label: t("dash.due"), value: due.due, colour: "#1f5fbf" },
      { label: t("dash.overdue"), value: due.overdue, colour: "#dc2626" },
      ...Object.entries(stages).map(([stage, n]) => ({ label: t(`stage.${stage}`), value: n, colour: "#8b95a1" })),
    ] }),
    el("dl", { class: "figures" },
      el("dt", {}, t("dash.due")), metric("due", due.due, "", null, 0),
      el("dt", {}, t("dash.overdue")), metric("overdue", due.overdue, "", null, 0),
      el("dt", {}, t("dash.rectification")), metric("rectification", rectification.numberMatched, "", null, 0)));

  const candidates = byReason.reduce((n, page) => n + page.numberMatched, 0);
  const exits = el("div", { class: "chart-row" },
    bars({ title: t("dash.exits"), digits: 0, items: [
      ...REASONS.map((reason, i) => ({ label: t(`reason.${reason}`), value: byReason[i].numberMatched, colour: "#b45309" })),
      { label: t("dash.cases_open"), value: casesOpen.numberMatched, colour: "#7c2d12" },
      { label: t("dash.cases_completed"), value: casesDone.numberMatched, colour: "#4b5563" },
    ] }),
    el("dl", { class: "figures" },
      el("dt", {}, t("dash.candidates")), metric("candidates", candidates, "", null, 0),
      el("dt", {}, t("dash.cases_open")), metric("cases-open", casesOpen.numberMatched, "", null, 0),
      el("dt", {}, t("dash.cases_completed")), metric("cases-completed", casesDone.numberMatched, "", null, 0)));

  const classes = el("div", { class: "chart-row" },
    bars({ title: t("dash.classes", { year: efficiency.year }), digits: 0,
           items: Object.entries(efficiency.classes).map(([c, n]) => ({ label: t("dash.class", { c }), value: n,
                                                                       colour: CLASS_COLOURS[c] })) }),
    el("dl", { class: "figures" }, ...Object.entries(efficiency.classes).flatMap(([c, n]) => [
      el("dt", {}, t("dash.class", { c })), metric(`class-${c}`, n, "", null, 0)])));

  root.replaceChildren(
    el("h1", {}, `${t("dash.title")} · ${t("dash.as_of", { date: land.as_of })}`),
    section(t("dash.total"), targets),
    section(t("dash.by_tier"), byTier),
    section(t("dash.by_district"), byDistrict),
    section(t("dash.trajectory"), trajectory),
    section(t("dash.evaluations", { days: DUE_DAYS }), evaluations),
    section(t("dash.exits"), exits),
    section(t("dash.classes", { year: efficiency.year }), classes),
    section(t("dash.accountability"), accountability(accountable, districts)),
  );
  root.dataset.ready = "true";
}

// SPEC §1 谁提出、谁管理: a row per responsible organisation (an org_manager's own only), in the server's
// order (most overdue first); a heading sorts by its column. Numbers as the report gives them.
const ACCOUNTABILITY = [
  ["acc.in_force", "contracts_in_force", 0], ["acc.rectification", "in_rectification", 0],
  ["acc.overdue", "evaluations_overdue", 0], ["acc.below", "below_bottom_line", 0],
  ["acc.candidates", "exit_candidates", 0], ["acc.cases_open", "exit_cases_open", 0],
  ["acc.cases_completed", "exit_cases_completed", 0], ["acc.hectares", "hectares", 2], ["acc.mu", "mu", 1],
];

function accountability(report, districts) {
  const columns = [
    [t("acc.organisation"), (r) => r.organisation_name, { key: "organisation_name" }],
    [t("acc.kind"), (r) => t(`org.kind.${r.organisation_kind}`), { key: "organisation_kind" }],
    [t("col.district"), (r) => (r.organisation_district_code
      ? placeName(districts.get(r.organisation_district_code)) : "–"), { key: "organisation_district_code" }],
    ...ACCOUNTABILITY.map(([label, key, digits]) => [t(label), (r) => num(r[key], digits),
      { numeric: true, key, value: (r) => r[key] }]),
  ];
  const holder = el("div", {});
  let rows = report.items.slice();
  let sorted = { key: "evaluations_overdue", desc: true }; // the server's order
  const render = () => {
    const grid = table(columns, rows, { id: "table-accountability", class: "numbers" });
    grid.tBodies[0].append(el("tr", { class: "total" }, el("th", { scope: "row", colspan: 3 }, t("acc.total")),
      ...ACCOUNTABILITY.map(([, key, digits]) => el("td", { class: "num", "data-value": report.totals[key] },
        num(report.totals[key], digits)))));
    grid.querySelectorAll("thead th").forEach((th, i) => {
      const { key, numeric } = columns[i][2];
      if (key === sorted.key) th.setAttribute("aria-sort", sorted.desc ? "descending" : "ascending");
      th.style.cursor = "pointer";
      th.addEventListener("click", () => {
        const desc = !(key === sorted.key && sorted.desc);
        const sign = desc ? -1 : 1;
        rows = rows.slice().sort((a, b) => sign * (numeric ? a[key] - b[key]
          : String(a[key] ?? "").localeCompare(String(b[key] ?? ""))));
        sorted = { key, desc };
        render();
      });
    });
    holder.replaceChildren(grid);
  };
  render();
  const csv = el("button", { type: "button", id: "accountability-csv" }, t("dash.accountability.csv"));
  csv.addEventListener("click", () => download(`/reports/accountability${qs({ f: "csv" })}`,
                                               `accountability-${report.as_of}.csv`));
  return el("div", {}, el("p", { class: "muted" }, t("dash.accountability.note")), holder,
            el("div", { class: "actions" }, csv));
}

/** One figure: `data-metric` names it and `data-value` holds the API's exact number (the test compares). */
function metric(name, value, unit, note, digits = 2) {
  return el("dd", { "data-metric": name, "data-value": value },
    el("strong", {}, `${num(value, digits)}${unit ? ` ${unit}` : ""}`), note ? ` · ${note}` : "");
}

/** Industrial land at the end of each past year the register has history for (rule 10: as_of). */
async function landHistory(thisYear) {
  const years = [];
  for (let y = thisYear - 8; y < thisYear; y += 1) years.push(y);
  const reports = await Promise.all(years.map((y) => api(`/reports/industrial-land?as_of=${y}-12-31`)));
  return reports.map((r, i) => [years[i], r.total]).filter(([, tot]) => tot.parcels > 0).map(([y, tot]) => [y, tot.km2]);
}
