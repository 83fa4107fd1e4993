#!/usr/bin/env bash
# Vendors Swagger UI (the API page, app/ui/api.html) into app/ui/vendor/swagger-ui/, so the page
# loads nothing from a CDN and the binary, which compiles app/ui in, serves it all itself.
#
# Fetches the pinned npm package with `npm pack` (no install, so none of its scripts run) into a
# temporary directory, checks the tarball against the pinned sha512 integrity below (the
# registry's `dist.integrity`), then copies swagger-ui-bundle.js, swagger-ui.css, the package's
# LICENSE and NOTICE, and the bundle's third-party licences (swagger-ui-bundle.js.LICENSE.txt,
# which the bundle's first line points to). The trailing sourceMappingURL comments are stripped:
# the maps are not shipped.
#
#   scripts/vendor-swagger-ui.sh      # needs npm, node and the npm registry
#
# To move to another version: change VERSION, put `npm view swagger-ui-dist@<version>
# dist.integrity` in INTEGRITY, run this script, update app/ui/vendor/swagger-ui/README.md, and
# check the page under the UI's Content-Security-Policy (app/src/routes/ui.rs `UI_CSP`).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=swagger-ui-dist
VERSION=5.35.0
INTEGRITY='sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=='
DEST=app/ui/vendor/swagger-ui

command -v npm >/dev/null 2>&1 || { echo "vendor-swagger-ui: npm is missing" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "vendor-swagger-ui: node is missing" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(cd "$work" && npm pack --silent --ignore-scripts "$PACKAGE@$VERSION")
tarball="$work/$tarball"
[ -f "$tarball" ] || { echo "vendor-swagger-ui: npm pack wrote no tarball" >&2; exit 1; }

# Our own check of the bytes against the pinned string, whatever the registry says today.
actual=$(node -e '
const crypto = require("crypto"), fs = require("fs");
const digest = crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64");
process.stdout.write("sha512-" + digest);
' "$tarball")
if [ "$actual" != "$INTEGRITY" ]; then
  echo "vendor-swagger-ui: $PACKAGE@$VERSION integrity mismatch" >&2
  echo "  expected $INTEGRITY" >&2
  echo "  got      $actual" >&2
  exit 1
fi

tar -xzf "$tarball" -C "$work"
pkg="$work/package"
got=$(node -p 'require(process.argv[1]).version' "$pkg/package.json")
[ "$got" = "$VERSION" ] || { echo "vendor-swagger-ui: the tarball holds version $got, not $VERSION" >&2; exit 1; }

# Copies a file without its last line if that line is only a sourceMappingURL comment
# (`//# …` in JS, `/*# … */` in CSS), ending it with one newline.
strip_map() { # src, dest
  node -e '
const fs = require("fs");
let s = fs.readFileSync(process.argv[1], "utf8");
s = s.replace(/(?:\r?\n)?(?:\/\/[#@] sourceMappingURL=[^\n]*|\/\*[#@] sourceMappingURL=[^\n]*?\*\/)\s*$/, "");
if (/sourceMappingURL=/.test(s.slice(-500))) {
  console.error("vendor-swagger-ui: a sourceMappingURL is left at the end of " + process.argv[1]);
  process.exit(1);
}
fs.writeFileSync(process.argv[2], s.replace(/\s*$/, "\n"));
' "$1" "$2"
}

out="$work/out"
mkdir -p "$out"
strip_map "$pkg/swagger-ui-bundle.js" "$out/swagger-ui-bundle.js"
strip_map "$pkg/swagger-ui.css" "$out/swagger-ui.css"
cp "$pkg/LICENSE" "$out/LICENSE"
if [ -f "$pkg/NOTICE" ]; then cp "$pkg/NOTICE" "$out/NOTICE"; fi
if [ -f "$pkg/swagger-ui-bundle.js.LICENSE.txt" ]; then cp "$pkg/swagger-ui-bundle.js.LICENSE.txt" "$out/"; fi
# The README is ours: it stays across runs.
if [ -f "$DEST/README.md" ]; then cp "$DEST/README.md" "$out/README.md"; fi
# Replaced as a whole, so no file of an older version stays behind.
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$out"/* "$DEST"/

echo "vendor-swagger-ui: $PACKAGE@$VERSION ($INTEGRITY) in $DEST" >&2
ls -l "$DEST" >&2
