// Drop the incident point, or click the route taken point by point; the GeoJSON goes in a hidden field.
(function () {
  var element = document.getElementById("incident-map"), field = document.getElementById("incident");
  var map = RegistryMap.create(element), drawn = L.layerGroup().addTo(map), vertices = [];
  element.leafletMap = map;  // lets the browser test turn lon/lat into a click position
  var outline = RegistryMap.boundary(map, JSON.parse(element.dataset.boundary));
  if (outline) { map.fitBounds(outline.getBounds()); } else { map.setView([21.0278, 105.8342], 14); }

  function mode() { return document.querySelector("input[name=mode]:checked").value; }

  function render() {
    drawn.clearLayers();
    if (!vertices.length) { field.value = ""; return; }
    if (mode() === "point") {
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
  if (field.value) {
    var shape = JSON.parse(field.value);
    var coordinates = shape.type === "Point" ? [shape.coordinates] : shape.coordinates;
    document.querySelector("input[name=mode][value=" + (shape.type === "Point" ? "point" : "route") + "]").checked = true;
    vertices = coordinates.map(function (c) { return L.latLng(c[1], c[0]); });
    render();
  }
})();
