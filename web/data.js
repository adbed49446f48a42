// Data in and out on the page: download parcels, zones or districts as a file, with the lists'
// filters, in the formats planners use; import a file as a background job (POST /imports), followed until it
// ends, with its counts and refused rows; the recent jobs, an open one cancellable. The server checks everything; the page only offers what the
// user's role may do.

import { api, auth, download, qs, sendForm } from "./api.js";
import { el, section, table, toast } from "./dom.js";
import { num, placeName, t } from "./i18n.js";
import { explain } from "./requests.js";

const FORMATS = ["gpkg", "shp", "csv", "excel", "geojson"];
const CRSS = ["EPSG:4490", "EPSG:4549", "EPSG:4550", "EPSG:4510", "EPSG:4326", "EPSG:3857"];
const KINDS_BY_ROLE = { bureau: ["parcels", "zones", "districts"], district_officer: ["parcels"], admin: ["districts"] };
const ACCEPT = ".gpkg,.zip,.geojson,.json,.csv,.xlsx,.ods,.shp,.dbf,.shx,.prj,.cpg";
const POLL_MS = 1000;
const SHOWN_REFUSALS = 50;
const OPEN = new Set(["queued", "running"]);

let generation = 0; // a newer render stops the older one's polling
let listTimer = null; // the recent jobs' next refresh, while one of them is open

export async function renderData(root, { districts }) {
  const mine = ++generation;
  const jobs = el("div", { id: "import-jobs" });
  const kinds = KINDS_BY_ROLE[auth.user.role] || [];
  root.replaceChildren(
    el("h1", {}, t("data.title")),
    section(t("data.export"), exportForm(districts)),
    kinds.length ? section(t("data.import"), importForm(kinds, () => listJobs(jobs, mine), mine)) : null,
    section(t("data.jobs"), jobs),
  );
  await listJobs(jobs, mine);
}

function exportForm(districts) {
  const own = auth.user.role === "district_officer" ? auth.user.district_code : "";
  const options = (values, label, selected = "") => values.map((v) =>
    el("option", { value: v, selected: v === selected }, label(v)));
  const form = el("form", { id: "export-form", class: "data-form" },
    el("label", {}, el("span", {}, t("data.what")),
      el("select", { name: "what" }, ...options(["parcels", "zones", "districts"], (k) => t(`data.kind.${k}`)))),
    el("label", {}, el("span", {}, t("data.format")),
      el("select", { name: "f" }, ...options(FORMATS, (f) => t(`data.format.${f}`)))),
    el("label", {}, el("span", {}, t("data.crs")), el("select", { name: "crs" }, ...options(CRSS, (c) => c))),
    el("label", { "data-for": "parcels" }, el("span", {}, t("col.tier")),
      el("select", { name: "tier" }, el("option", { value: "" }, t("data.any")),
        ...options(["base", "community", "fragment"], (v) => t(`tier.${v}`)))),
    el("label", { "data-for": "parcels zones" }, el("span", {}, t("col.district")),
      el("select", { name: "district_code" }, el("option", { value: "" }, t("data.any")),
        ...options([...districts.keys()].sort(), (code) => placeName(districts.get(code)), own))),
    el("label", { "data-for": "parcels zones" }, el("span", {}, t("data.as_of")),
      el("input", { name: "as_of", type: "date" })),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("data.download"))),
    el("p", { class: "muted", role: "status", id: "export-status" }),
  );
  // Only the filters the chosen kind has are shown (and sent): zones have no tier, districts no filter.
  const what = form.querySelector("select[name=what]");
  const showFilters = () => {
    for (const label of form.querySelectorAll("label[data-for]")) {
      label.hidden = !label.dataset.for.split(" ").includes(what.value);
    }
  };
  what.addEventListener("change", showFilters);
  showFilters();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.querySelector("#export-status");
    // as_of: a date is that day's end in Shanghai. Zones filter by district too; districts by nothing.
    const { what, ...fields } = Object.fromEntries(new FormData(form));
    for (const label of form.querySelectorAll("label[data-for][hidden]")) {
      delete fields[label.querySelector("select, input").name];
    }
    // For Excel: a CSV with a UTF-8 byte-order mark, without which Excel on a Chinese Windows garbles the names.
    if (fields.f === "excel") Object.assign(fields, { f: "csv", bom: "true" });
    status.className = "muted";
    status.textContent = t("data.preparing");
    try {
      const name = await download(`/${what}/export${qs(fields)}`, `${what}.${fields.f}`);
      status.textContent = t("data.downloaded", { name });
    } catch (error) {
      status.className = "error";
      status.textContent = explain(error);
    }
  });
  return form;
}

function importForm(kinds, refresh, mine) {
  const form = el("form", { id: "import-form", class: "data-form" },
    el("label", {}, el("span", {}, t("data.file")),
      el("input", { name: "file", id: "import-file", type: "file", accept: ACCEPT, multiple: true, required: true })),
    el("p", { class: "muted hint" }, t("data.file.hint")),
    el("label", {}, el("span", {}, t("data.kind")),
      el("select", { name: "kind" }, ...kinds.map((k) => el("option", { value: k }, t(`data.kind.${k}`))))),
    el("label", {}, el("span", {}, t("data.layer")), el("input", { name: "layer", autocomplete: "off" })),
    el("label", {}, el("span", {}, t("data.land_use")),
      el("select", { name: "land_use" }, el("option", { value: "" }, t("data.from_file")),
        ...["industrial", "rnd", "office", "commercial", "other"].map((u) =>
          el("option", { value: u }, t(`land_use.${u}`))))),
    el("label", {}, el("span", {}, t("data.crs.file")),
      el("select", { name: "crs" }, el("option", { value: "" }, t("data.from_file")),
        ...CRSS.map((c) => el("option", { value: c }, c)))),
    el("label", {}, el("span", {}, t("data.encoding")),
      el("select", { name: "encoding" }, el("option", { value: "" }, t("data.from_file")),
        ...["GB18030", "GBK", "UTF-8"].map((e) => el("option", { value: e }, e)))),
    el("label", { class: "wide" }, el("span", {}, t("data.map")),
      el("input", { name: "map", autocomplete: "off", placeholder: "code=DKBM plot_ratio=RJL" })),
    el("label", { class: "check" }, el("input", { name: "dry_run", type: "checkbox", value: "true" }),
      el("span", {}, t("data.dry_run"))),
    el("label", { class: "check" }, el("input", { name: "skip_invalid", type: "checkbox", value: "true" }),
      el("span", {}, t("data.skip_invalid"))),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("data.start"))),
    el("div", { id: "import-status", role: "status", "aria-live": "polite" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = form.querySelector("#import-status");
    const body = new FormData(form);
    const pairs = String(body.get("map") || "").split(/[\s,;，；]+/).filter(Boolean); // one field per pair
    body.delete("map");
    for (const pair of pairs) body.append("map", pair);
    for (const [name, value] of [...body.entries()]) if (value === "") body.delete(name);
    form.querySelector("button[type=submit]").disabled = true;
    out.replaceChildren(el("p", { class: "muted" }, t("data.uploading")));
    try {
      let job = await sendForm("/imports", body);
      const stop = cancelButton(job, { id: "import-cancel" }, () => {}); // the loop below sees the end
      out.replaceChildren(jobState(job), stop);
      while (OPEN.has(job.status) && mine === generation) {
        await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
        job = await api(`/imports/${job.id}`);
        out.replaceChildren(jobState(job), stop);
      }
      if (!OPEN.has(job.status)) {
        out.replaceChildren(jobState(job), ...jobDetail(job));
        form.querySelector("#import-file").value = ""; // the options stay for the corrected file
        await refresh();
      }
    } catch (error) {
      out.replaceChildren(el("p", { class: "error" }, explain(error)));
    } finally {
      form.querySelector("button[type=submit]").disabled = false;
    }
  });
  return form;
}

/** A button that cancels an open job (DELETE /imports/{id}), then calls `after`. */
function cancelButton(job, attrs, after) {
  const button = el("button", { type: "button", ...attrs }, t("data.cancel"));
  button.addEventListener("click", () => {
    button.disabled = true;
    api(`/imports/${job.id}`, { method: "DELETE" }).catch((error) => toast(explain(error))).finally(after);
  });
  return button;
}

/** A job's status, with its phase and progress while it runs. */
function statusText(job) {
  const status = t(`data.status.${job.status}`);
  if (job.status !== "running" || !job.phase) return status;
  const progress = job.progress !== null ? ` ${Math.round(job.progress * 100)} %` : "";
  return `${status} · ${t(`data.phase.${job.phase}`)}${progress}`;
}

/** One line: the job, its status and its counts. */
function jobState(job) {
  const parts = [t("data.job", { id: job.id, file: job.filename }), statusText(job)];
  if (job.counts.read !== null) parts.push(t("data.counts", counts(job)));
  if (job.dry_run) parts.push(t("data.dry_run.short"));
  const tone = { succeeded: "ok", refused: "error", failed: "error", cancelled: "error" }[job.status] || "muted";
  return el("p", { class: `${tone} job-state`, "data-status": job.status }, parts.join(" · "));
}

/** What an ended job says beyond its line: the notes, why it failed, its refused rows and their report. */
function jobDetail(job) {
  const out = job.notes.map((note) => el("p", { class: "muted" }, note));
  if (job.error && job.status !== "cancelled") {
    out.push(el("p", { class: "error" }, explain({ code: job.error.code, problem: job.error })));
  }
  if (job.refused.length) {
    const rows = job.refused.slice(0, SHOWN_REFUSALS);
    out.push(table([
      [t("data.row"), (r) => String(r.row), { numeric: true }],
      [t("panel.code"), (r) => r.key || "–"],
      [t("data.code"), (r) => r.code],
      [t("col.reason"), (r) => r.reason],
    ], rows, { id: "import-refused", class: "queue" }));
    const report = el("button", { type: "button", id: "import-report" }, t("data.report"));
    // Opened in Excel, most likely: with the byte-order mark that makes it read the codes' Chinese right.
    report.addEventListener("click", () => download(`/imports/${job.id}/report?bom=true`, `import-${job.id}-refused.csv`));
    out.push(el("p", {}, job.counts.refused > rows.length
      ? t("queues.more", { shown: rows.length, total: job.counts.refused }) : "", " ", report));
  }
  return out;
}

function counts(job) {
  return { read: num(job.counts.read), accepted: num(job.counts.accepted), refused: num(job.counts.refused) };
}

/** The recent jobs; while one of them is open the list follows it, each open job with a Cancel button. */
async function listJobs(root, mine) {
  clearTimeout(listTimer);
  if (mine !== generation) return;
  const page = await api(`/imports${qs({ limit: 10 })}`);
  const refresh = () => listJobs(root, mine);
  root.replaceChildren(page.items.length ? table([
    ["#", (j) => String(j.id), { numeric: true }],
    [t("data.file"), (j) => j.filename],
    [t("data.kind"), (j) => t(`data.kind.${j.kind}`)],
    [t("col.status"), (j) => el("span", { class: `badge job-${j.status}` }, statusText(j))],
    [t("data.read"), (j) => num(j.counts.read), { numeric: true }],
    [t("data.accepted"), (j) => num(j.counts.accepted), { numeric: true }],
    [t("data.refused"), (j) => num(j.counts.refused), { numeric: true }],
    [t("data.by"), (j) => j.created_by],
    [t("data.when"), (j) => new Date(j.created_at).toLocaleString()],
    [t("col.actions"), (j) => (OPEN.has(j.status) ? cancelButton(j, { "data-cancel": j.id }, refresh) : "")],
  ], page.items, { class: "queue" }) : el("p", { class: "muted" }, t("queues.empty")));
  if (page.items.some((j) => OPEN.has(j.status))) listTimer = setTimeout(refresh, POLL_MS);
}
