#!/usr/bin/env bash
# Check, and when possible install, the system packages camera_registry needs.
#
#   scripts/system-deps.sh run    SpatiaLite only (the embedded database)
#   scripts/system-deps.sh test   also PostgreSQL server + PostGIS (for TEST_DATABASE=postgis)
#
# Installs missing packages with apt-get as root, or with passwordless sudo.
# Otherwise prints one line naming the packages, and fails only when
# mod_spatialite (required) is missing; a missing PostGIS is a warning.
set -euo pipefail

needs="${1:-test}"
case "$needs" in run|test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac

have_spatialite() {
    ldconfig -p 2>/dev/null | grep -q mod_spatialite && return 0
    compgen -G '/usr/lib/*/mod_spatialite.so*' >/dev/null || compgen -G '/usr/lib/mod_spatialite.so*' >/dev/null \
        || compgen -G '/usr/local/lib/mod_spatialite.so*' >/dev/null
}

have_postgis() {
    compgen -G '/usr/share/postgresql/*/extension/postgis.control' >/dev/null
}

have_postgres_server() {
    local bindir
    if command -v pg_config >/dev/null 2>&1; then
        bindir="$(pg_config --bindir 2>/dev/null || true)"
        [[ -n "$bindir" && -x "$bindir/initdb" && -x "$bindir/pg_ctl" ]] && return 0
    fi
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

have_venv() {
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1
}

has_candidate() {  # apt knows an installable version of package $1
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
    [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

if [[ "$(id -u)" == 0 ]]; then
    apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo -n apt-get)
else
    apt=()
fi

updated=no
apt_update_once() {
    if [[ "$updated" == no && ${#apt[@]} -gt 0 ]]; then
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq || true
        updated=yes
    fi
}

required=()
optional=()
have_spatialite || required+=(libsqlite3-mod-spatialite)
have_venv || required+=(python3-venv)
command -v npm >/dev/null 2>&1 || required+=(npm)
# The browser tests drive Debian's Chromium (Playwright's own browser download is unavailable here).
if [[ "$needs" == test && ! -x /usr/bin/chromium ]]; then
    required+=(chromium)
fi
if [[ "$needs" == test ]] && ! { have_postgis && have_postgres_server; }; then
    apt_update_once
    if has_candidate postgresql-15-postgis-3; then
        optional+=(postgresql-15-postgis-3)
    else
        optional+=(postgresql postgis)
    fi
fi

missing=("${required[@]}" "${optional[@]}")
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ ${#apt[@]} -gt 0 ]]; then
    apt_update_once
    echo "system-deps: installing ${missing[*]}" >&2
    if DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "system-deps: apt-get install failed" >&2
fi

if [[ ${#required[@]} -gt 0 ]]; then
    echo "system-deps: missing system packages; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "system-deps: warning: PostGIS tests need: sudo apt-get install ${missing[*]} (or set TEST_POSTGRES_URL)" >&2
exit 0
