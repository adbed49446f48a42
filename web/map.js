// The map: districts, zones and parcels as vector tiles from /tiles (ST_AsMVT), parcels coloured by tier,
// legacy zone or status. No base map from the internet: the bureau's network may be closed.

import { api, auth } from "./api.js";
import { t } from "./i18n.js";

export const CITY = [[120.85, 30.67], [122.2, 31.88]];

export const PALETTES = {
  tier: { base: "#1f5fbf", community: "#1b7f3b", fragment: "#c2410c" },
  legacy_zone: { 104: "#6d28d9", 195: "#b45309", 198: "#0e7490", none: "#8b95a1" },
  planning_locked: { true: "#6d28d9", false: "#8b95a1" },
  status: {
    planned: "#8b95a1", supplied: "#2563eb", under_construction: "#d97706", operating: "#15803d",
    rectification: "#dc2626", exiting: "#7c2d12", recovered: "#4b5563",
  },
  // 亩均 classes of the holding enterprise (GET /ratings/parcels; never in the public tiles: feature-state).
  rating: { A: "#15803d", B: "#2563eb", C: "#d97706", D: "#dc2626", none: "#c3c9d0" },
};
const ZONES = { base: "#1f5fbf", community: "#1b7f3b" };

function colourBy(property) {
  const palette = PALETTES[property];
  const stops = Object.entries(palette).filter(([k]) => k !== "none").flat();
  const value = property === "rating" ? ["coalesce", ["feature-state", "rating"], "none"]
    : ["to-string", ["get", property]];
  return ["match", value, ...stops, palette.none || "#8b95a1"];
}

/** The latest rated year's class of each parcel's enterprise, as feature-state `rating` (the reader's scope:
 * GET /ratings/parcels answers only what it may read); resolves with that year (null: none rated). */
async function loadRatings(map) {
  const layer = await api("/ratings/parcels");
  const target = { source: "parcels", sourceLayer: "parcels" };
  map.removeFeatureState(target);
  for (const [id, cls] of Object.entries(layer.classes)) map.setFeatureState({ ...target, id: Number(id) }, { rating: cls });
  return layer.year;
}

function tiles(layer) {
  return { type: "vector", tiles: [`${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt`], minzoom: 0, maxzoom: 16 };
}

function style() {
  const parcelColour = colourBy("tier");
  return {
    version: 8,
    sources: { districts: tiles("districts"), zones: tiles("zones"), parcels: tiles("parcels") },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#eef1f4" } },
      { id: "districts-fill", type: "fill", source: "districts", "source-layer": "districts",
        paint: { "fill-color": "#ffffff", "fill-opacity": 0.9 } },
      { id: "zones-fill", type: "fill", source: "zones", "source-layer": "zones",
        paint: { "fill-color": ["match", ["get", "kind"], "base", ZONES.base, ZONES.community], "fill-opacity": 0.1 } },
      { id: "zones-line", type: "line", source: "zones", "source-layer": "zones",
        paint: { "line-color": ["match", ["get", "kind"], "base", ZONES.base, ZONES.community],
                 "line-width": 1.2, "line-dasharray": [3, 2] } },
      { id: "districts-line", type: "line", source: "districts", "source-layer": "districts",
        paint: { "line-color": "#56606b", "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.8, 14, 2] } },
      { id: "parcels-points", type: "circle", source: "parcels", "source-layer": "parcels",
        filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-color": parcelColour,
                 "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 1.3, 11, 2.6] } },
      { id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels",
        filter: ["!=", ["geometry-type"], "Point"],
        paint: { "fill-color": parcelColour, "fill-opacity": 0.7 } },
      { id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels",
        filter: ["!=", ["geometry-type"], "Point"],
        paint: { "line-color": "#1b1f24", "line-width": 0.4, "line-opacity": 0.6 } },
      { id: "parcel-selected-line", type: "line", source: "parcels", "source-layer": "parcels",
        filter: ["==", ["id"], -1], paint: { "line-color": "#facc15", "line-width": 3 } },
      { id: "parcel-selected-point", type: "circle", source: "parcels", "source-layer": "parcels",
        filter: ["all", ["==", ["geometry-type"], "Point"], ["==", ["id"], -1]],
        paint: { "circle-color": "#facc15", "circle-radius": 6, "circle-stroke-color": "#1b1f24",
                 "circle-stroke-width": 1.5 } },
    ],
  };
}

/** Build the map in `container`; `onParcel(id)` is called when a parcel is clicked. */
export function createMap(container, { onParcel }) {
  performance.mark("map-start");
  const map = new maplibregl.Map({
    container,
    style: style(),
    bounds: CITY,
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    maxZoom: 19,
    dragRotate: false,
    // Tiles need the same bearer token as the REST API.
    transformRequest: (url) => (url.includes("/tiles/") && auth.token
      ? { url, headers: { Authorization: `Bearer ${auth.token}` } } : { url }),
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "bottom-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.touchZoomRotate.disableRotation();

  // The first whole-city render (bench/web.py measures it): all tiles of the first view loaded and drawn.
  map.once("idle", () => {
    performance.mark("map-idle");
    performance.measure("map-first-render", "map-start", "map-idle");
    window.landcycle.firstRenderMs = performance.getEntriesByName("map-first-render")[0].duration;
  });

  const clickable = ["parcels-fill", "parcels-points"];
  for (const layer of clickable) {
    map.on("click", layer, (e) => onParcel(Number(e.features[0].id)));
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }
  return map;
}

/** Recolour parcels by `property` (tier, legacy_zone, status, planning_locked, rating) and redraw the
 * legend; `rating` first loads the classes (rejects when the reader may not read them). */
export async function colourParcels(map, property, legend) {
  const expr = colourBy(property);
  const apply = () => {
    map.setPaintProperty("parcels-fill", "fill-color", expr);
    map.setPaintProperty("parcels-points", "circle-color", expr);
  };
  if (property !== "rating") {
    if (map.isStyleLoaded()) apply(); else map.once("load", apply);
    renderLegend(legend, property);
    return;
  }
  if (!map.isStyleLoaded()) await new Promise((done) => map.once("load", done));
  const year = await loadRatings(map);
  apply();
  renderLegend(legend, property, year);
}

export function renderLegend(legend, property, year = null) {
  const prefix = { tier: "tier.", legacy_zone: "legacy.", status: "status.", planning_locked: "lock.",
                   rating: "rating.class." }[property];
  const rows = Object.entries(PALETTES[property]).map(([key, colour]) =>
    `<li><span class="swatch" style="background:${colour}"></span>${t(prefix + key)}</li>`);
  rows.push(`<li><span class="swatch zone" style="border-color:${ZONES.base}"></span>${t("legend.zone.base")}</li>`);
  rows.push(`<li><span class="swatch zone" style="border-color:${ZONES.community}"></span>${t("legend.zone.community")}</li>`);
  rows.push(`<li><span class="swatch line"></span>${t("legend.district")}</li>`);
  const title = property === "rating" ? (year ? t("legend.rating", { year }) : t("legend.rating.none"))
    : t("legend.title");
  legend.innerHTML = `<h2>${title}</h2><ul>${rows.join("")}</ul>`;
}

/** Highlight parcel `id` and bring its geometry into view. */
export function showParcel(map, id, geometry) {
  const apply = () => {
    map.setFilter("parcel-selected-line", ["==", ["id"], id]);
    map.setFilter("parcel-selected-point", ["all", ["==", ["geometry-type"], "Point"], ["==", ["id"], id]]);
  };
  if (map.isStyleLoaded()) apply(); else map.once("load", apply);
  if (geometry) {
    const bounds = new maplibregl.LngLatBounds();
    for (const polygon of geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates) {
      for (const [x, y] of polygon[0]) bounds.extend([x, y]);
    }
    map.fitBounds(bounds, { padding: { top: 60, bottom: 60, left: 320, right: 420 }, maxZoom: 15, duration: 600 });
  }
}

/** Frame a geometry's extent (a district officer's district when the map opens). */
export function frame(map, geometry) {
  const bounds = new maplibregl.LngLatBounds();
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  for (const polygon of polygons) for (const [x, y] of polygon[0]) bounds.extend([x, y]);
  map.fitBounds(bounds, { padding: { top: 30, bottom: 30, left: 320, right: 30 }, duration: 0 });
}

export function clearSelection(map) {
  if (!map.isStyleLoaded()) return;
  map.setFilter("parcel-selected-line", ["==", ["id"], -1]);
  map.setFilter("parcel-selected-point", ["all", ["==", ["geometry-type"], "Point"], ["==", ["id"], -1]]);
}

/** Tiles were cached by ETag; after a change the page asks again (the server answers 304 for unchanged). */
export function refreshParcels(map) {
  const source = map.getSource("parcels");
  if (source) source.setTiles(source.tiles);
}
