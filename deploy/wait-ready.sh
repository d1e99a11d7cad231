#!/bin/sh
# Wait until a host's /readyz answers 200 (docs/operations.md, "Rolling upgrade"); print its checks either way.
#   deploy/wait-ready.sh [URL] [SECONDS]     default: http://127.0.0.1:8000/readyz, 120 s
url="${1:-http://127.0.0.1:8000/readyz}"
seconds="${2:-120}"
end=$(( $(date +%s) + seconds ))
while :; do
    body=$(curl -s -m 5 -w '\n%{http_code}' "$url")
    status=$(printf '%s\n' "$body" | tail -n 1)
    if [ "$status" = "200" ]; then
        printf '%s\n' "$body" | sed '$d'
        echo "ready: $url"
        exit 0
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
        printf '%s\n' "$body" | sed '$d'
        echo "not ready after ${seconds}s: $url (last status ${status:-none})" >&2
        exit 1
    fi
    sleep 2
done
