#!/bin/sh
# deps.sh — install what the build and the tests need from Debian's archive, only if missing.
# Runs on every `make`; when everything is present it costs one dpkg query.
PKGS="flex bison libpcre2-dev libcjson-dev zlib1g-dev pkg-config python3 python3-numpy python3-torch clang libclang-rt-dev python3-dev python3-setuptools python3-pip python3-venv"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: run as root: apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
  echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
