#!/usr/bin/env bash
# System packages Veille needs beyond PyPI. Runs only as root on Debian (as on the
# development and CI machines); elsewhere it says what to install and carries on.
set -u

# install GROUP_DESCRIPTION WHAT_FAILS package...
install() {
  local what="$1" fails="$2"
  shift 2
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages for $what: ${missing[*]}"
    # The package lists are read once per run of this script.
    if [ -z "${updated:-}" ]; then apt-get update -qq >/dev/null && updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "could not install ${missing[*]}: $fails"
  else
    echo "$what needs: ${missing[*]} — install them, then 'make setup' again ($fails without them)"
  fi
}

install "video hashing" "video hashing (vPDQ) will be disabled" \
  pkg-config libavcodec-dev libavformat-dev libavfilter-dev libavdevice-dev libavutil-dev libswscale-dev libswresample-dev
# Debian's Chromium drives the browser tests of the web application (Playwright with
# executable_path /usr/bin/chromium; no browser is downloaded).
install "the browser tests" "the browser tests will be skipped" chromium fonts-dejavu-core
# WeasyPrint draws the threat assessment's PDF with Pango; its fonts ship with Debian.
install "the assessment's PDF" "veille assess --format pdf will fail" libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
# The assessment's tests render its PDF pages to images and read their text (pdftoppm, pdftotext).
install "the assessment's PDF tests" "they will be skipped" poppler-utils
exit 0
