#!/usr/bin/env bash
# Renders bench/chart.svg to bench/chart.png, to look at the chart as a reader's viewer shows it
# (the PNG is not committed). Uses rsvg-convert (Debian: librsvg2-bin) or, failing that, Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
svg=bench/chart.svg
png=bench/chart.png
[ -f "$svg" ] || { echo "chart-png: $svg does not exist; run 'pnpm bench --report' first" >&2; exit 1; }
if command -v rsvg-convert >/dev/null 2>&1; then
  rsvg-convert --background-color=white -o "$png" "$svg"
else
  browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
  [ -n "$browser" ] || { echo "chart-png: needs rsvg-convert (apt-get install librsvg2-bin) or Chromium" >&2; exit 1; }
  width=$(sed -n 's/.*<svg[^>]* width="\([0-9]*\)".*/\1/p' "$svg" | head -1)
  height=$(sed -n 's/.*<svg[^>]* height="\([0-9]*\)".*/\1/p' "$svg" | head -1)
  profile=$(mktemp -d)
  trap 'rm -rf "$profile"' EXIT
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size="${width},${height}" --screenshot="$PWD/$png" "file://$PWD/$svg" >/dev/null 2>&1
fi
echo "Wrote $png"
