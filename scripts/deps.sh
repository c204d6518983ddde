#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Pincer needs to build, run and test.
# Does nothing for packages that are already there.
set -euo pipefail

pkgs=(
  build-essential pkg-config ca-certificates
  # the OS keyring (Secret Service over D-Bus) and a session bus for the tests
  libdbus-1-dev dbus dbus-x11 gnome-keyring
  # the desktop app (Tauri 2 on WebKitGTK 4.1) and its packages
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev
  libsoup-3.0-dev libjavascriptcoregtk-4.1-dev file patchelf xdg-utils rpm librsvg2-bin
  # its tests: a real window, WebDriver, screenshots, CJK text
  xvfb xauth x11-utils imagemagick webkit2gtk-driver fonts-wqy-microhei procps
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Please install: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing ${missing[*]} …"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
