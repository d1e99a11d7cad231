// The coverage map: communes coloured by sharing rate or lens density, lenses as server-side clusters
// when zoomed out and as field-of-view wedges when zoomed in, and on request what the lenses see of each
// commune (from the coverage layer's zoom in). All data comes from /api/v1/map.
// Data goes into the page as text only (textContent, or elements handed to Leaflet), never as HTML:
// a unit, site or owner name is whatever somebody typed.
// The words come from the page (map.html's JSON block "coverage-map-strings"), in the page's language.
(function () {
  var strings = JSON.parse(document.getElementById("coverage-map-strings").textContent);
  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) { return values[name]; });
  }
  var element = document.getElementById("coverage-map");
  var map = RegistryMap.create(element);
  element.leafletMap = map;  // lets the browser test find places on the map
  var extent = JSON.parse(element.dataset.extent);
  var urls = { communes: element.dataset.communes, lenses: element.dataset.lenses, coverage: element.dataset.coverage };
  if (extent) { map.fitBounds([[extent[1], extent[0]], [extent[3], extent[2]]]); } else { map.setView([21.0278, 105.8342], 12); }

  var COLOURS = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"];
  var MODES = {
    sharing_rate: { title: strings.sharing_rate, breaks: [0.5, 0.7, 0.8, 0.9], format: percent },
    lens_density: { title: strings.lens_density, breaks: [5, 20, 50, 100], format: number }
  };

  function number(value, digits) {
    return value === null || value === undefined ? "—"
      : value.toLocaleString(strings.number_locale, { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function percent(value) { return value === null || value === undefined ? "—" : number(value * 100) + " %"; }
  function mode() { return document.querySelector("input[name=mode]:checked").value; }
  function colour(value) {
    if (value === null || value === undefined) { return "#bdbdbd"; }
    var breaks = MODES[mode()].breaks, i = 0;
    while (i < breaks.length && value >= breaks[i]) { i++; }
    return COLOURS[i];
  }

  var communes = L.geoJSON(null, {
    className: "commune",
    style: function (feature) {
      return { color: "#0b3d6b", weight: 1, fillOpacity: 0.55, fillColor: colour(feature.properties[mode()]) };
    },
    onEachFeature: function (feature, layer) {
      layer.on("add", function () { layer.getElement().setAttribute("data-commune", feature.properties.code); });
      layer.bindTooltip(RegistryMap.text("span", feature.properties.name), { sticky: true });
      layer.on("click", function () { showCommune(feature.properties); });
    }
  }).addTo(map);
  map.createPane("lenses").style.zIndex = 450;  // above the communes, which are redrawn on every move
  var points = L.layerGroup().addTo(map);

  // What the lenses see: the seen union in a light blue, the shared part over it in a darker one; clicks go
  // through to the communes beneath.
  var SEEN = { seen: { fillColor: "#6baed6", fillOpacity: 0.5 }, shared_seen: { fillColor: "#08519c", fillOpacity: 0.7 } };
  map.createPane("coverage").style.zIndex = 420;
  var seen = L.geoJSON(null, {
    pane: "coverage",
    interactive: false,
    filter: function (feature) { return feature.geometry.coordinates.length > 0; },
    style: function (feature) {
      return L.extend({ stroke: false, className: "coverage-union" }, SEEN[feature.properties.union]);
    },
    onEachFeature: function (feature, layer) {
      layer.on("add", function () {
        layer.getElement().setAttribute("data-union", feature.properties.union);
        layer.getElement().setAttribute("data-commune", feature.properties.code);
      });
    }
  });
  var coverageToggle = document.querySelector("#map-layers input[name=coverage]");

  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () { this.div = L.DomUtil.create("div", "map-legend"); return this.div; };
  legend.addTo(map);
  var coverageLegend = L.control({ position: "bottomright" });
  coverageLegend.onAdd = function () {
    this.div = L.DomUtil.create("div", "map-legend coverage-legend");
    this.note = RegistryMap.text("p", "");
    this.div.append(RegistryMap.text("strong", strings.coverage.title), legendRow(SEEN.seen.fillColor, strings.coverage.seen),
      legendRow(SEEN.shared_seen.fillColor, strings.coverage.shared_seen), this.note);
    return this.div;
  };
  function coverageNote(text, state) {
    coverageLegend.note.textContent = text;
    coverageLegend.div.dataset.state = state;
  }
  function legendRow(colour, label) {
    var row = document.createElement("div"), swatch = document.createElement("i");
    swatch.style.background = colour;
    row.append(swatch, label);
    return row;
  }
  function drawLegend() {
    var spec = MODES[mode()], rows = [RegistryMap.text("strong", spec.title)];
    COLOURS.forEach(function (c, i) {
      var low = i ? spec.format(spec.breaks[i - 1]) : null, high = i < spec.breaks.length ? spec.format(spec.breaks[i]) : null;
      rows.push(legendRow(c, low === null ? say(strings.below, { value: high })
        : high === null ? say(strings.from, { value: low }) : low + " – " + high));
    });
    rows.push(legendRow("#bdbdbd", strings.no_active_lens));
    legend.div.replaceChildren.apply(legend.div, rows);
    legend.div.dataset.mode = mode();
  }

  function query(extra) {
    var b = map.getBounds(), params = new URLSearchParams({
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(","),
      zoom: String(map.getZoom())
    });
    Object.keys(extra || {}).forEach(function (key) { if (extra[key]) { params.set(key, extra[key]); } });
    return "?" + params.toString();
  }
  function filters() {
    var values = {};
    document.querySelectorAll("#lens-filters select").forEach(function (select) { values[select.name] = select.value; });
    return values;
  }

  var loads = { communes: 0, lenses: 0, coverage: 0 };
  function load(which, url, draw) {
    var ticket = ++loads[which];  // an answer to an older view is dropped
    return fetch(url, { headers: { Accept: "application/geo+json" } })
      .then(function (response) { if (!response.ok) { throw new Error(which + ": HTTP " + response.status); } return response.json(); })
      .then(function (data) { if (ticket === loads[which]) { draw(data); element.dataset["shown_" + which] = data.features.length; } });
  }

  function loadCommunes() {
    return load("communes", urls.communes + query(), function (data) { communes.clearLayers().addData(data); });
  }

  function loadCoverage() {
    if (!coverageToggle.checked) { return; }
    if (map.getZoom() < Number(element.dataset.coverageZoom)) {
      loads.coverage++;  // drops an answer still on its way
      seen.clearLayers();
      coverageNote(strings.coverage.zoom_in, "zoom_in");
      return;
    }
    var ticket = ++loads.coverage;
    return fetch(urls.coverage + query(), { headers: { Accept: "application/geo+json" } }).then(function (response) {
      if (ticket !== loads.coverage) { return; }
      if (response.status === 422) {  // a view too wide to draw: the API names bbox
        seen.clearLayers();
        coverageNote(strings.coverage.too_wide, "too_wide");
        return;
      }
      if (!response.ok) { throw new Error("coverage: HTTP " + response.status); }
      return response.json().then(function (data) {
        if (ticket !== loads.coverage) { return; }
        seen.clearLayers().addData(data);
        var stale = data.features.some(function (feature) { return feature.properties.stale; });
        coverageNote(stale ? strings.coverage.stale : "", stale ? "stale" : "drawn");
        element.dataset.shown_coverage = data.features.length;
      });
    });
  }
  function toggleCoverage() {
    if (coverageToggle.checked) {
      seen.addTo(map);
      coverageLegend.addTo(map);
      loadCoverage();
    } else {
      seen.remove();
      coverageLegend.remove();
    }
  }

  function loadLenses() {
    return load("lenses", urls.lenses + query(filters()), function (data) {
      points.clearLayers();
      data.features.forEach(function (feature) {
        var p = feature.properties, lon = feature.geometry.coordinates[0], lat = feature.geometry.coordinates[1];
        if (p.kind === "cluster") { drawCluster(p, lat, lon); } else { drawLens(p, lat, lon); }
      });
    });
  }

  function drawCluster(p, lat, lon) {
    var size = Math.round(22 + 8 * Math.log10(p.lenses)), shared = p.shared_lenses / p.lenses;
    var badge = RegistryMap.text("div", String(p.lenses));
    badge.className = "lens-cluster";
    badge.style.width = badge.style.height = size + "px";
    badge.style.background = shared >= 0.8 ? "#1a7f37" : shared >= 0.5 ? "#b26b00" : "#b00020";
    badge.title = say(strings.cluster, { lenses: p.lenses, shared: p.shared_lenses });
    var icon = L.divIcon({ className: "", iconSize: [size, size], html: badge });
    L.marker([lat, lon], { icon: icon }).on("click", function () { map.setView([lat, lon], map.getZoom() + 2); }).addTo(points);
  }

  function drawLens(p, lat, lon) {
    var tint = p.status !== "active" ? "#757575" : p.shared ? "#1a7f37" : "#c75000";
    RegistryMap.sector(lon, lat, p.bearing_deg, p.fov_deg, p.range_m, { color: tint, interactive: false, pane: "lenses" }).addTo(points);
    L.circleMarker([lat, lon], { radius: 5, color: tint, fillOpacity: 0.9, className: "map-lens", pane: "lenses" })
      .on("click", function () { showLens(p.id); }).addTo(points);
  }

  function panel(id, title, rows) {
    var section = document.getElementById(id), dl = document.createElement("dl"), heading = document.createElement("h2");
    heading.textContent = title;
    rows.forEach(function (row) {
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = row[0];
      dd.textContent = row[1];
      dl.append(dt, dd);
    });
    section.replaceChildren(heading, dl);
    return section;
  }

  function showCommune(f) {
    var words = strings.commune;
    panel("commune-figures", f.name, [
      [words.lenses_active, number(f.lenses_active, 0)], [words.lenses_offline, number(f.lenses_offline, 0)],
      [words.shared_active_lenses, number(f.shared_active_lenses, 0)], [words.sharing_rate, percent(f.sharing_rate)],
      [words.seen_share, percent(f.seen_share)], [words.shared_seen_share, percent(f.shared_seen_share)],
      [words.lens_density, number(f.lens_density)], [words.area_km2, number(f.area_km2)],
      [words.recorders, number(f.recorders, 0)], [words.owners_household, number(f.owners_household, 0)],
      [words.owners_agency, number(f.owners_agency, 0)], [words.owners_business, number(f.owners_business, 0)],
      [words.sites, number(f.sites, 0)], [words.requests_opened, number(f.requests_opened, 0)],
      [words.requests_resolved, number(f.requests_resolved, 0)], [words.median_hours, number(f.median_hours_to_resolution)],
      [words.consent_rate, percent(f.consent_rate)], [words.expired_share, percent(f.expired_share)]
    ]).dataset.commune = f.code;
  }

  function showLens(id) {
    fetch(urls.lenses + "/" + id).then(function (response) { return response.json(); }).then(function (s) {
      var lens = s.lens, recorder = s.recorder, owner = s.owner, words = strings.lens;
      var rows = [
        [words.status, strings.statuses[lens.status]],
        [words.view, (lens.bearing_deg === null ? words.all_round : number(lens.bearing_deg, 0) + "°") + ", " +
          number(lens.fov_deg, 0) + "°, " + number(lens.range_m, 0) + " m"],
        [words.recorder, recorder.external_id + (recorder.make ? " (" + recorder.make + " " + (recorder.model || "") + ")" : "")],
        [words.retention, say(words.days, { days: recorder.retention_days })],
        [words.commitment, recorder.shared ? words.yes : words.not_yet],
        [words.site, s.site_name || "—"], [words.owner, owner.name + " (" + strings.kinds[owner.kind] + ")"]
      ];
      if (owner.contacts_shown) {
        rows.push([words.phone, owner.phone || "—"], [words.email, owner.email || "—"], [words.address, owner.address || "—"]);
      } else {
        rows.push([words.contacts, words.contacts_hidden]);
      }
      panel("lens-summary", say(words.title, { id: lens.external_id }), rows).dataset.lens = lens.id;
    });
  }

  var pending;
  function reload() {
    clearTimeout(pending);
    pending = setTimeout(function () { loadCommunes(); loadLenses(); loadCoverage(); }, 150);
  }
  map.on("moveend", reload);
  document.querySelectorAll("input[name=mode]").forEach(function (radio) {
    radio.addEventListener("change", function () { communes.resetStyle(); drawLegend(); });
  });
  document.querySelectorAll("#lens-filters select").forEach(function (select) { select.addEventListener("change", loadLenses); });
  coverageToggle.addEventListener("change", toggleCoverage);
  drawLegend();
  loadCommunes();
  loadLenses();
})();
