#!/usr/bin/env bash
# Checks the freshly built Linux packages: the .deb's contents and
# dependencies, the .rpm's contents; then, as root on a throwaway machine
# (PINCER_CI=1, set by .ci/run), installs the .deb with apt, runs the
# installed `pincer --version` and `pincer doctor --json`, starts the
# installed app under Xvfb and waits for its window, removes the package, and
# checks that the user's data survived. Run scripts/package.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(ls target/release/bundle/deb/*.deb | head -1)
rpm=$(ls target/release/bundle/rpm/*.rpm | head -1)
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== $deb ($(du -h "$deb" | cut -f1))"
contents=$(dpkg-deb -c "$deb")
for f in usr/bin/pincer-desktop usr/bin/pincer usr/share/applications/Pincer.desktop \
  usr/lib/systemd/user/pincer.service usr/share/icons/hicolor/128x128/apps/pincer-desktop.png; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the .deb"
done
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
  grep -q "$d" <<<"$depends" || fail "the .deb does not depend on $d"
done
# The CLI is the headless build: it must run on a server without WebKit/GTK.
if ldd target/release/pincer | grep -Eq 'webkit|gtk|javascriptcore'; then
  fail "target/release/pincer links WebKit/GTK: the headless CLI must not"
fi
echo "== $rpm ($(du -h "$rpm" | cut -f1))"
rpm -qlp "$rpm" 2>/dev/null | grep -qx /usr/bin/pincer || fail "/usr/bin/pincer is not in the .rpm"
rpm -qlp "$rpm" 2>/dev/null | grep -qx /usr/bin/pincer-desktop || fail "the app is not in the .rpm"

if [ "$(id -u)" -ne 0 ] || [ -z "${PINCER_CI:-}" ]; then
  echo "(installing the .deb is only done as root with PINCER_CI=1: skipped)"
  exit 0
fi

echo "== apt-get install ./$(basename "$deb")"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export PINCER_HOME="$home"
/usr/bin/pincer --version
# No bots yet: doctor reports and exits; its JSON must parse either way.
doctor=$(/usr/bin/pincer doctor --json || true)
node -e 'const d = JSON.parse(process.argv[1]); console.log("doctor:", JSON.stringify(d).length, "bytes of JSON")' "$doctor" \
  || fail "pincer doctor --json did not print JSON: $doctor"
echo "== the installed app under Xvfb"
xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- bash -c '
  echo -n pkg | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  WEBKIT_DISABLE_DMABUF_RENDERER=1 /usr/bin/pincer-desktop >"$PINCER_HOME/app.out" 2>&1 &
  app=$!
  for i in $(seq 1 120); do
    if xwininfo -root -tree 2>/dev/null | grep -q "Pincer 钳"; then
      echo "window shown after ~$((i * 250)) ms"
      sleep 4  # let the wizard render before the screenshot
      import -window root "$PINCER_HOME/installed-app.png" || true
      kill $app; wait $app 2>/dev/null; exit 0
    fi
    kill -0 $app 2>/dev/null || { cat "$PINCER_HOME/app.out"; exit 1; }
    sleep 0.25
  done
  cat "$PINCER_HOME/app.out"; kill $app; exit 1' || fail "the installed app showed no window"
mkdir -p target/e2e-shots
cp "$home/installed-app.png" target/e2e-shots/20-installed-app.png 2>/dev/null || true
test -f "$home/config.toml" -o -d "$home/data" || fail "the app wrote no data"
echo "== apt-get remove pincer"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq pincer >/dev/null
command -v pincer-desktop >/dev/null && fail "pincer-desktop is still installed"
test -d "$home/data" || fail "removing the package lost the user's data"
echo "package checks passed (user data kept after removal)"
