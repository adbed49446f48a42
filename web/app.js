// The page: log in, then four views — map (with the parcel panel), queues, dashboard and data (import and
// export) — switched by the URL's hash (#/map, #/map/parcel/42, #/queues, #/dashboard, #/data) so the
// browser's back button works.

import { api, auth, login, logout, resume } from "./api.js";
import { renderDashboard } from "./dashboard.js";
import { renderData } from "./data.js";
import { readsFigures, renderMeasurements } from "./measurements.js";
import { toast } from "./dom.js";
import { applyLabels, lang, onLangChange, setLang, t } from "./i18n.js";
import { clearSelection, colourParcels, createMap, frame, refreshParcels, showParcel } from "./map.js";
import { renderParcel } from "./panel.js";
import { renderQueues } from "./queues.js";
import { explain } from "./requests.js";

window.landcycle = { firstRenderMs: null };

const $ = (id) => document.getElementById(id);
const VIEWS = ["login", "map", "queues", "dashboard", "data", "figures"];
const districts = new Map();
let map = null;

function show(view) {
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
}

async function route() {
  if (!auth.user) {
    show("login");
    $("login-form").querySelector("input[name=username]").focus();
    return;
  }
  // A department's user (data_provider) opens on its figures.
  const home = auth.user.role === "data_provider" ? "figures" : "map";
  const [, view = home, kind, id] = location.hash.split("/");
  try {
    if (view === "queues") {
      show("queues");
      await renderQueues($("view-queues"), { districts, openParcel: (pid) => { location.hash = `#/map/parcel/${pid}`; } });
    } else if (view === "dashboard") {
      show("dashboard");
      await renderDashboard($("view-dashboard"), { districts });
    } else if (view === "figures" && readsFigures(auth.user)) {
      show("figures");
      await renderMeasurements($("view-figures"));
    } else if (view === "data") {
      show("data");
      await renderData($("view-data"), { districts });
    } else {
      show("map");
      ensureMap();
      map.resize();
      if (kind === "parcel" && id) await openParcel(Number(id));
      else closePanel(false);
    }
  } catch (error) {
    toast(explain(error));
  }
}

function ensureMap() {
  if (map) return;
  map = createMap($("map"), { onParcel: (pid) => { location.hash = `#/map/parcel/${pid}`; } });
  colourParcels(map, $("style-by").value, $("legend"));
  // A district officer's map opens on their district (the bureau's on the whole city).
  const own = auth.user.district_code;
  if (own && !location.hash.includes("/parcel/")) {
    api(`/districts/${own}`).then((district) => frame(map, district.geometry)).catch(() => {});
  }
}

async function openParcel(id) {
  const panel = $("panel");
  const feature = await renderParcel(panel, id, {
    districts,
    onClose: () => closePanel(true),
    onChanged: () => refreshParcels(map),
  });
  if (!feature) return;
  showParcel(map, id, feature.geometry);
  panel.focus();
}

function closePanel(navigate) {
  const panel = $("panel");
  panel.hidden = true;
  panel.replaceChildren();
  if (map) clearSelection(map);
  if (navigate) location.hash = "#/map";
}

async function findParcel(event) {
  event.preventDefault();
  const error = $("search-error");
  error.hidden = true;
  const code = $("search-code").value.trim();
  if (!code) return;
  const page = await api(`/parcels?code=${encodeURIComponent(code)}&limit=1`);
  if (!page.features.length) {
    error.textContent = t("search.none", { code });
    error.hidden = false;
    return;
  }
  location.hash = `#/map/parcel/${page.features[0].id}`;
}

async function loadDistricts() {
  const page = await api("/districts?limit=100");
  for (const f of page.features) districts.set(f.properties.code, f.properties);
}

async function signedIn(user) {
  $("who").textContent = `${user.username} · ${user.role}${user.district_code ? ` · ${user.district_code}` : ""}`;
  $("nav").hidden = false;
  document.querySelector("#nav a[data-view=figures]").hidden = !readsFigures(user);
  $("logout").hidden = false;
  // 亩均 classes are enterprise figures: not a department's (data_provider) to read (SPEC §4).
  document.querySelector("#style-by option[value=rating]").hidden = user.role === "data_provider";
  await loadDistricts();
  await route();
}

function signedOut() {
  $("who").textContent = "";
  $("nav").hidden = true;
  $("logout").hidden = true;
  closePanel(false);
  show("login");
}

function wire() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const error = $("login-error");
    error.hidden = true;
    try {
      const user = await login(String(form.get("username")), String(form.get("password")));
      event.target.reset();
      await signedIn(user);
    } catch (e) {
      error.textContent = t("login.failed", { detail: explain(e) });
      error.hidden = false;
    }
  });
  $("logout").addEventListener("click", () => { logout(); signedOut(); });
  $("lang").addEventListener("click", () => setLang(lang() === "zh" ? "en" : "zh"));
  $("search").addEventListener("submit", (e) => findParcel(e).catch((err) => toast(explain(err))));
  $("style-by").addEventListener("change", (e) => colourParcels(map, e.target.value, $("legend"))
    .catch((err) => toast(explain(err))));
  // Escape closes the parcel panel and gives the keyboard back to the map.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("panel").hidden) {
      closePanel(true);
      $("map").querySelector("canvas")?.focus();
    }
  });
  window.addEventListener("hashchange", route);
  auth.onExpired(() => { signedOut(); toast(t("err.UNAUTHENTICATED")); });
  // A new language redraws the labels, the legend and whatever view is open.
  onLangChange(() => {
    if (map) colourParcels(map, $("style-by").value, $("legend")).catch((err) => toast(explain(err)));
    if (auth.user) route();
  });
}

async function start() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  applyLabels(document);
  wire();
  const user = await resume();
  if (user) await signedIn(user); else signedOut();
}

start();
