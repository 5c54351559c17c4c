#!/usr/bin/env bash
# Installs and starts what onair's tests use from the system: ffmpeg, PostgreSQL, Chromium,
# icecast2, nginx with RTMP and Liquidsoap (the README's encoder example). Safe to run again; needs root (or sudo) only when something is missing.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v icecast2 >/dev/null || need+=(icecast2)
command -v liquidsoap >/dev/null || need+=(liquidsoap)
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(nginx-light libnginx-mod-rtmp)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# PostgreSQL for the scale-out tests: a local server on 127.0.0.1:5432 with trust auth and a database "test".
can_connect() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; }
if ! can_connect; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  else
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  for _ in $(seq 1 50); do can_connect && break; sleep 0.2; done
  can_connect || { echo "setup: PostgreSQL does not accept connections on 127.0.0.1:5432" >&2; exit 1; }
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE test' >/dev/null
echo "setup: ffmpeg $(ffmpeg -version | head -n 1 | cut -d' ' -f3), PostgreSQL ready on 127.0.0.1:5432"
