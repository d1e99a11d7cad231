// Shared map helpers. The basemap is optional: the app's own PMTiles archive when one is configured
// (the <meta name="pmtiles-basemap"> of _map_assets.html), else the XYZ tile URL, else nothing: the commune
// boundaries are the base, so the map works with no internet at all.
window.RegistryMap = (function () {
  var METRES_PER_DEG_LAT = 110574;
  var pmtilesProtocol = null;

  // Protomaps' light style with labels in the page's language. With no glyph files in the style, MapLibre draws
  // the letters with the browser's own sans-serif (Vietnamese diacritics included); with no sprite, the icons of
  // points of interest and road shields are left out and their names kept.
  function vectorLayers() {
    var layers = basemaps.layers("basemap", basemaps.namedFlavor("light"), { lang: document.documentElement.lang || "vi" });
    layers.forEach(function (layer) { if (layer.layout) { delete layer.layout["icon-image"]; } });
    return layers;
  }

  // MapLibre draws the archive inside a Leaflet layer, reading it by Range requests through the pmtiles protocol.
  function pmtilesLayer(meta) {
    if (!pmtilesProtocol) {
      maplibregl.setWorkerUrl(meta.dataset.worker);  // a file of ours: the strict CSP allows no blob: worker
      pmtilesProtocol = new pmtiles.Protocol();
      maplibregl.addProtocol("pmtiles", pmtilesProtocol.tile);
    }
    var url = "pmtiles://" + new URL(meta.content, window.location.href).href, vector = meta.dataset.kind === "vector";
    var style = {
      version: 8,
      sources: { basemap: vector ? { type: "vector", url: url } : { type: "raster", url: url, tileSize: 256 } },
      layers: vector ? vectorLayers() : [{ id: "basemap", type: "raster", source: "basemap" }]
    };
    var attribution = meta.dataset.attribution ? { customAttribution: meta.dataset.attribution } : undefined;
    return L.maplibreGL({ style: style, attributionControl: attribution });
  }

  function create(element) {
    var map = L.map(element, { zoomSnap: 0.5 }), pmtilesBasemap = document.querySelector("meta[name=pmtiles-basemap]");
    // The library's name only: its default prefix links out (these machines are offline) under an English title.
    map.attributionControl.setPrefix("Leaflet");
    if (pmtilesBasemap) {
      pmtilesLayer(pmtilesBasemap).addTo(map);
    } else if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, { maxZoom: 20, attribution: element.dataset.attribution || "" }).addTo(map);
    }
    return map;
  }

  function boundary(map, geojson) {
    if (!geojson) { return null; }
    return L.geoJSON(geojson, { style: { color: "#0b3d6b", weight: 2, fillOpacity: 0.04 } }).addTo(map);
  }

  // The field of view of a lens as a wedge (or a disc for 360 degrees or no bearing); `style` overrides the colours.
  function sector(lon, lat, bearing, fov, range, style) {
    var metresPerDegLon = 111320 * Math.cos(lat * Math.PI / 180), points = [];
    function at(angle, radius) {
      var a = angle * Math.PI / 180;
      return [lat + radius * Math.cos(a) / METRES_PER_DEG_LAT, lon + radius * Math.sin(a) / metresPerDegLon];
    }
    var full = bearing === null || fov >= 360, start = full ? 0 : bearing - fov / 2, span = full ? 360 : fov;
    if (!full) { points.push([lat, lon]); }
    for (var step = 0; step <= 24; step++) { points.push(at(start + span * step / 24, range)); }
    return L.polygon(points, L.extend({ color: "#c75000", weight: 1, fillOpacity: 0.25 }, style));
  }

  // An element holding `value` as text: what Leaflet's tooltips and icons get instead of an HTML string.
  function text(tag, value) {
    var element = document.createElement(tag);
    element.textContent = value === null || value === undefined ? "" : String(value);
    return element;
  }

  return { create: create, boundary: boundary, sector: sector, text: text };
})();
