#!/usr/bin/env bash
# System packages Veille needs beyond PyPI. Runs only as root on Debian (as on the
# development and CI machines); elsewhere it says what to install and carries on.
set -u
needed=(pkg-config libavcodec-dev libavformat-dev libavfilter-dev libavdevice-dev libavutil-dev libswscale-dev libswresample-dev)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for video hashing: ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null \
    || echo "could not install ${missing[*]}: video hashing (vPDQ) will be disabled"
else
  echo "video hashing (vPDQ) needs: ${missing[*]} — install them, then 'make setup' again"
fi
exit 0
