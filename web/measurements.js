// Department figures on the page (SPEC §4 data_provider): a department's user uploads its figures of a
// year (CSV or Excel, long or wide) to POST /measurements/batches, all or nothing, and sees the refused rows
// (row, subject, figure, reason); below, the batches delivered, each with its values as CSV. The bureau
// delivers for any department; admins and viewers read. The server checks everything.

import { api, auth, download, qs, sendForm } from "./api.js";
import { el, section, table } from "./dom.js";
import { num, t } from "./i18n.js";
import { explain } from "./requests.js";

const SOURCES = ["tax", "statistics", "energy", "environment"];
const READERS = new Set(["data_provider", "bureau", "admin", "viewer"]);
const SHOWN = 200; // refused rows shown on the page (the answer carries up to 1,000, the batch keeps all)

/** Whether the user's role reads delivered batches (the page's "Figures" view). */
export function readsFigures(user) {
  return !!user && READERS.has(user.role);
}

export async function renderMeasurements(root) {
  const role = auth.user.role;
  const list = el("div", { id: "batches" });
  const delivers = role === "data_provider" || role === "bureau";
  root.replaceChildren(
    el("h1", {}, t("fig.title")),
    delivers ? section(t("fig.deliver"), deliverForm(() => listBatches(list))) : null,
    section(t("fig.batches"), list),
  );
  await listBatches(list);
}

function deliverForm(refresh) {
  const own = auth.user.source;
  const thisYear = new Date().getFullYear();
  const sources = own ? [own] : SOURCES;
  const form = el("form", { id: "figures-form", class: "data-form" },
    el("label", {}, el("span", {}, t("data.file")),
      el("input", { name: "file", type: "file", accept: ".csv,.xlsx", required: true })),
    el("p", { class: "muted hint" }, t("fig.file.hint")),
    el("label", {}, el("span", {}, t("fig.source")),
      el("select", { name: "source", disabled: !!own },
        ...sources.map((s) => el("option", { value: s }, t(`fig.source.${s}`))))),
    el("label", {}, el("span", {}, t("fig.year")),
      el("input", { name: "year", type: "number", min: 1990, max: thisYear, value: thisYear - 1, required: true })),
    el("label", { class: "check" }, el("input", { name: "skip_invalid", type: "checkbox", value: "true" }),
      el("span", {}, t("fig.skip_invalid"))),
    el("label", { class: "check" }, el("input", { name: "dry_run", type: "checkbox", value: "true" }),
      el("span", {}, t("data.dry_run"))),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("fig.send"))),
    el("div", { id: "figures-status", role: "status", "aria-live": "polite" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = form.querySelector("#figures-status");
    const body = new FormData(form);
    if (own) body.set("source", own); // a disabled select is not sent
    out.replaceChildren(el("p", { class: "muted" }, t("data.uploading")));
    try {
      const batch = await sendForm("/measurements/batches", body);
      const words = batch.dry_run ? t("fig.checked") : t("fig.stored", { id: batch.id });
      out.replaceChildren(el("p", {}, `${words} ${counts(batch.rows, batch.accepted, batch.refused)}`),
                          refusedTable(batch.report));
      if (!batch.dry_run) refresh();
    } catch (error) {
      const p = error.problem || {};
      const rows = Array.isArray(p.refused) ? p.refused : [];
      out.replaceChildren(
        el("p", { class: "error", role: "alert" }, rows.length
          ? `${t("fig.refused")} ${counts(p.rows, p.accepted, p.refused_total)}`
          : explain(error)),
        refusedTable(rows),
      );
    }
  });
  return form;
}

function counts(rows, accepted, refused) {
  return t("fig.counts", { rows: num(rows ?? 0), accepted: num(accepted ?? 0), refused: num(refused ?? 0) });
}

function refusedTable(rows) {
  if (!rows || !rows.length) return null;
  return el("div", {},
    table([
      [t("data.row"), (r) => r.row, { numeric: true }],
      [t("fig.subject"), (r) => r.subject],
      [t("fig.figure"), (r) => (r.figure ? figureName(r.figure) : null)],
      [t("fig.reason"), (r) => r.reason],
    ], rows.slice(0, SHOWN), { class: "refused" }),
    rows.length > SHOWN ? el("p", { class: "muted" }, t("fig.more", { n: num(rows.length - SHOWN) })) : null);
}

function figureName(code) {
  const key = `fig.figure.${code}`;
  const name = t(key);
  return name === key ? code : name;
}

async function listBatches(box) {
  const page = await api(`/measurements/batches${qs({ limit: 50 })}`);
  if (!page.items.length) {
    box.replaceChildren(el("p", { class: "muted" }, t("fig.none")));
    return;
  }
  const values = (b) => {
    const button = el("button", { type: "button", class: "ghost" }, t("fig.values"));
    button.addEventListener("click", () => download(`/measurements/batches/${b.id}/values?f=csv&bom=true`,
                                                    `measurement-batch-${b.id}.csv`));
    return button;
  };
  const report = (b) => {
    if (!b.refused) return "0";
    const button = el("button", { type: "button", class: "ghost" }, num(b.refused));
    button.addEventListener("click", async () => {
      const full = await api(`/measurements/batches/${b.id}`);
      button.replaceWith(refusedTable(full.report) || "");
    });
    return button;
  };
  box.replaceChildren(table([
    ["#", (b) => b.id, { numeric: true }],
    [t("fig.source"), (b) => t(`fig.source.${b.source}`)],
    [t("fig.year"), (b) => b.year, { numeric: true }],
    [t("data.file"), (b) => b.file_name || "JSON"],
    [t("data.accepted"), (b) => num(b.accepted), { numeric: true }],
    [t("data.refused"), report, { numeric: true }],
    [t("data.by"), (b) => b.delivered_by],
    [t("data.when"), (b) => new Date(b.delivered_at).toLocaleString()],
    ["", values],
  ], page.items, { class: "batches" }));
}
