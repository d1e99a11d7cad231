#!/usr/bin/env bash
# Install the front-end packages from the npm registry and copy the files the
# app serves into camera_registry/web/static/vendor/ (not in git). The running
# service never reaches a CDN: its machines have no internet.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
vendor=camera_registry/web/static/vendor
rm -rf "$vendor"

copy() {  # copy PACKAGE DEST FILE...
    local package="$1" dest="$vendor/$2"
    shift 2
    mkdir -p "$dest"
    for file in "$@"; do
        cp -r "node_modules/$package/$file" "$dest/"
    done
}

copy swagger-ui-dist swagger-ui swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css
copy leaflet/dist leaflet leaflet.js leaflet.css images
copy tus-js-client/dist tus-js-client tus.min.js
# The offline basemap (MAP_PMTILES_PATH): MapLibre's CSP build, whose worker is a file of ours rather than a blob:
# URL, its Leaflet layer, the PMTiles reader and Protomaps' style for the streets, water and buildings.
copy maplibre-gl/dist maplibre-gl maplibre-gl-csp.js maplibre-gl-csp-worker.js maplibre-gl.css
copy @maplibre/maplibre-gl-leaflet maplibre-gl-leaflet leaflet-maplibre-gl.js
copy pmtiles/dist pmtiles pmtiles.js
copy @protomaps/basemaps/dist protomaps-basemaps basemaps.js
