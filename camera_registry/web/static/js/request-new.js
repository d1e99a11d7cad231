// Drop the incident point, click the route taken point by point, or click the corners of an area (a polygon,
// closed by itself, its size shown against the limit); the GeoJSON goes in a hidden field.
// The search box finds the place (a point result drops the point, or the next route point); the commune's
// active lenses are drawn with their fields of view, so the officer sees what the incident will meet.
(function () {
  var strings = JSON.parse(document.getElementById("request-new-strings").textContent);
  var element = document.getElementById("incident-map"), field = document.getElementById("incident");
  var map = RegistryMap.create(element), drawn = L.layerGroup().addTo(map), vertices = [];
  element.leafletMap = map;  // lets the browser test turn lon/lat into a click position
  var outline = RegistryMap.boundary(map, JSON.parse(element.dataset.boundary));
  if (outline) { map.fitBounds(outline.getBounds()); } else { map.setView([21.0278, 105.8342], 14); }

  function mode() { return document.querySelector("input[name=mode]:checked").value; }

  var areaNote = document.getElementById("area-size"), maxArea = Number(element.dataset.maxAreaKm2);

  // A polygon's area in km² on a plane tangent at its first corner: within a fraction of a percent at this size,
  // enough to warn before the server (which measures it on the ellipsoid) refuses it.
  function areaKm2(corners) {
    var lat0 = corners[0].lat * Math.PI / 180, sum = 0;
    var x = function (c) { return (c.lng - corners[0].lng) * 111320 * Math.cos(lat0); };
    var y = function (c) { return (c.lat - corners[0].lat) * 110574; };
    corners.forEach(function (c, i) { var n = corners[(i + 1) % corners.length]; sum += x(c) * y(n) - x(n) * y(c); });
    return Math.abs(sum) / 2 / 1e6;
  }

  function showArea() {
    areaNote.hidden = mode() !== "area";
    areaNote.classList.remove("error");
    if (vertices.length < 3) { areaNote.textContent = strings.area_hint.replace("{most}", maxArea); return; }
    var area = areaKm2(vertices), tooLarge = area > maxArea;
    areaNote.classList.toggle("error", tooLarge);
    areaNote.textContent = (tooLarge ? strings.area_too_large : strings.area_size)
      .replace("{area}", area.toFixed(area < 0.01 ? 4 : 2)).replace("{most}", maxArea);
  }

  function render() {
    drawn.clearLayers();
    showArea();
    if (!vertices.length) { field.value = ""; return; }
    if (mode() === "area") {
      L.polygon(vertices, { color: "#b00020", weight: 3, fillOpacity: 0.15, className: "incident-area" }).addTo(drawn);
      vertices.forEach(function (v) { L.circleMarker(v, { radius: 4, color: "#b00020" }).addTo(drawn); });
      var ring = vertices.concat([vertices[0]]).map(function (v) { return [v.lng, v.lat]; });
      field.value = vertices.length > 2 ? JSON.stringify({ type: "Polygon", coordinates: [ring] }) : "";
    } else if (mode() === "point") {
      L.circleMarker(vertices[0], { radius: 7, color: "#b00020" }).addTo(drawn);
      field.value = JSON.stringify({ type: "Point", coordinates: [vertices[0].lng, vertices[0].lat] });
    } else {
      L.polyline(vertices, { color: "#b00020", weight: 4 }).addTo(drawn);
      vertices.forEach(function (v) { L.circleMarker(v, { radius: 4, color: "#b00020" }).addTo(drawn); });
      field.value = vertices.length > 1 ? JSON.stringify({
        type: "LineString", coordinates: vertices.map(function (v) { return [v.lng, v.lat]; }) }) : "";
    }
  }

  map.on("click", function (event) {
    if (mode() === "point") { vertices = [event.latlng]; } else { vertices.push(event.latlng); }
    render();
  });
  document.querySelectorAll("input[name=mode]").forEach(function (radio) {
    radio.addEventListener("change", function () { vertices = []; render(); });
  });
  document.getElementById("clear-incident").addEventListener("click", function () { vertices = []; render(); });

  PlaceSearch.attach(document.getElementById("place-search"), document.getElementById("place-results"),
    document.getElementById("place-problem"), strings, function (place) {
      if (place.bounds) {
        map.fitBounds([[place.bounds[1], place.bounds[0]], [place.bounds[3], place.bounds[2]]]);
        return;
      }
      var latlng = L.latLng(place.point[1], place.point[0]);
      map.setView(latlng, Math.max(map.getZoom(), 18));
      if (mode() === "point") { vertices = [latlng]; } else { vertices.push(latlng); }
      render();
    });

  // Below the incident and deaf to the pointer, so a click through a wedge still places the incident.
  map.createPane("reach-lenses").style.zIndex = 350;
  map.getPane("reach-lenses").style.pointerEvents = "none";
  var wedges = { pane: "reach-lenses", renderer: L.canvas({ pane: "reach-lenses" }), interactive: false };
  var dot = L.extend({ radius: 2, weight: 1, color: "#c75000", fillOpacity: 1 }, wedges);
  var note = document.getElementById("reach-lenses");
  fetch(element.dataset.lenses, { headers: { Accept: "application/json" } })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      data.lenses.forEach(function (lens) {  // [lon, lat, bearing, fov, range]
        RegistryMap.sector(lens[0], lens[1], lens[2], lens[3], lens[4], wedges).addTo(map);
        L.circleMarker([lens[1], lens[0]], dot).addTo(map);
      });
      element.dataset.lensesDrawn = data.lenses.length;
      note.textContent = strings.drawn.replace("{count}", data.lenses.length)
        + (data.truncated ? " " + strings.truncated : "");
    });
  if (field.value) {  // the form came back refused: draw again what was sent
    var shape = JSON.parse(field.value);
    var modes = { Point: "point", LineString: "route", Polygon: "area" };
    var coordinates = shape.type === "Point" ? [shape.coordinates]
      : shape.type === "Polygon" ? shape.coordinates[0].slice(0, -1) : shape.coordinates;
    document.querySelector("input[name=mode][value=" + modes[shape.type] + "]").checked = true;
    vertices = coordinates.map(function (c) { return L.latLng(c[1], c[0]); });
  }
  render();
})();
