#!/usr/bin/env bash
# Makes every icon Pincer ships (app, installers, Windows .ico, macOS .icns)
# from the one source image icons/pincer.svg. Needs rsvg-convert
# (librsvg2-bin) and the Tauri CLI (ui/node_modules, `npm ci` in ui/).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rsvg-convert -w 1024 -h 1024 icons/pincer.svg -o "$tmp/pincer.png"
tauri=${TAURI_CLI:-ui/node_modules/.bin/tauri}
"$tauri" icon "$tmp/pincer.png" --output icons
# Store and mobile sizes are not shipped.
rm -rf icons/android icons/ios icons/Square*Logo.png icons/StoreLogo.png
ls icons
