// The request's incident (a point, a route or an area), search radius, and the routed lenses with their fields of view.
(function () {
  var strings = JSON.parse(document.getElementById("request-show-strings").textContent);
  var element = document.getElementById("request-map"), data = JSON.parse(element.dataset.features);
  var map = RegistryMap.create(element), layers = L.featureGroup().addTo(map);
  var first = { Point: data.incident.coordinates, LineString: data.incident.coordinates[0] }[data.incident.type]
    || data.incident.coordinates[0][0];  // a Polygon's first corner
  map.setView([first[1], first[0]], 17);  // circles need a view before their bounds exist
  RegistryMap.boundary(map, data.boundary);
  var incident = L.geoJSON(data.incident, {
    style: { color: "#b00020", weight: 4, fillOpacity: 0.1, className: "incident" },
    pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, { radius: 7, color: "#b00020" }); }
  }).addTo(layers);
  if (data.incident.type === "Point") {
    var c = data.incident.coordinates;
    L.circle([c[1], c[0]], { radius: data.radius, color: "#b00020", weight: 1, fill: false, dashArray: "4" }).addTo(layers);
  }
  data.lenses.forEach(function (lens) {
    var lon = lens.point.coordinates[0], lat = lens.point.coordinates[1];
    RegistryMap.sector(lon, lat, lens.bearing, lens.fov, lens.range).addTo(layers);
    L.circleMarker([lat, lon], { radius: 4, color: "#0b3d6b", className: "routed-lens" })
      .bindTooltip(RegistryMap.text("span",
      strings.lens.replace("{rank}", lens.rank).replace("{distance}", Math.round(lens.distance)))).addTo(layers);
  });
  map.fitBounds(layers.getBounds().pad(0.3));
})();
