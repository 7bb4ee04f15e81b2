#!/bin/sh
# Copy the browser code of the API docs, Swagger UI (/docs) and Redoc (/redoc), from their npm
# packages into facilbot/api/static/vendor/. FastAPI's defaults load them from a CDN, so the
# docs were blank without internet; facilbot serves these copies itself (facilbot/api/docs.py).
#
#   scripts/vendor-api-docs.sh          fetch the pinned packages and copy the files
#   scripts/vendor-api-docs.sh --check  only verify the committed copies equal the packages'
#
# The packages are fetched with `npm pack` (the tarball alone: Redoc's dependency tree is not
# needed, its standalone bundle contains it) and checked against the integrity pinned below
# before anything is copied. The copies are committed (licences kept beside them) so that
# installing facilbot needs no Node.js; to update, change a version and its integrity (from
# `npm view PACKAGE@VERSION dist.integrity`) and run this.
set -eu
cd "$(dirname "$0")/.."

# Swagger UI 5 and Redoc 2 are the majors FastAPI's own CDN defaults load.
swagger_ui=swagger-ui-dist@5.35.0
swagger_ui_integrity=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
redoc=redoc@2.5.4
redoc_integrity=sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==

dest=facilbot/api/static/vendor
# "file in the package:name in $dest", per package
swagger_ui_files="swagger-ui-bundle.js:swagger-ui-bundle.js
swagger-ui-bundle.js.LICENSE.txt:swagger-ui-bundle.js.LICENSE.txt
swagger-ui.css:swagger-ui.css
favicon-32x32.png:swagger-ui-favicon-32x32.png
oauth2-redirect.js:swagger-ui-oauth2-redirect.js
LICENSE:swagger-ui.LICENSE
NOTICE:swagger-ui.NOTICE"
redoc_files="bundles/redoc.standalone.js:redoc.standalone.js
bundles/redoc.standalone.js.LICENSE.txt:redoc.standalone.js.LICENSE.txt
LICENSE:redoc.LICENSE"

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "vendor-api-docs: npm and node are needed (Debian: apt-get install npm)" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# fetch SPEC INTEGRITY DIR: the package's tarball, checked, unpacked into $work/DIR/package
fetch() {
    mkdir -p "$work/$3"
    tarball=$(cd "$work/$3" && npm pack --silent --loglevel=error "$1" | tail -n 1)
    got=$(node -e 'const fs = require("fs"), crypto = require("crypto");
process.stdout.write("sha512-" + crypto.createHash("sha512")
  .update(fs.readFileSync(process.argv[1])).digest("base64"));' "$work/$3/$tarball")
    if [ "$got" != "$2" ]; then
        echo "vendor-api-docs: $1 has integrity $got, not the pinned $2" >&2
        exit 1
    fi
    tar -xzf "$work/$3/$tarball" -C "$work/$3"
}

fetch "$swagger_ui" "$swagger_ui_integrity" swagger-ui
fetch "$redoc" "$redoc_integrity" redoc

# each PACKAGE_DIR FILES COMMAND: run COMMAND FROM TO for every pair
each() {
    echo "$2" | while IFS=: read -r from to; do
        "$3" "$work/$1/package/$from" "$dest/$to" || return 1
    done
}

same() {
    if ! cmp -s "$1" "$2"; then
        echo "vendor-api-docs: $2 differs from the package's ${1#"$work"/};" \
            "run scripts/vendor-api-docs.sh" >&2
        return 1
    fi
}

if [ "${1:-}" = "--check" ]; then
    status=0
    each swagger-ui "$swagger_ui_files" same || status=1
    each redoc "$redoc_files" same || status=1
    [ $status -eq 0 ] && echo "vendor-api-docs: $dest matches $swagger_ui and $redoc"
    exit $status
fi

mkdir -p "$dest"
each swagger-ui "$swagger_ui_files" cp
each redoc "$redoc_files" cp

sha() { sha256sum "$dest/$1" | cut -d' ' -f1; }
{
    cat <<NOTE
# Vendored browser code of the API docs

Copied by \`scripts/vendor-api-docs.sh\` from the npm packages pinned there (name, version and
integrity); never edit these files by hand. Served by \`facilbot/api/docs.py\` at
\`/docs/assets/vendor/\`.

- From \`swagger-ui-dist\` ${swagger_ui#*@} (Apache-2.0, see \`swagger-ui.LICENSE\` and
  \`swagger-ui.NOTICE\`; the licences of the code bundled in it are in
  \`swagger-ui-bundle.js.LICENSE.txt\`), package integrity \`$swagger_ui_integrity\`:
NOTE
    echo "$swagger_ui_files" | while IFS=: read -r from to; do
        echo "  - \`$to\`: \`$from\`, sha256 \`$(sha "$to")\`"
    done
    cat <<NOTE
- From \`redoc\` ${redoc#*@} (MIT, see \`redoc.LICENSE\`; the licences of the code bundled in it are
  in \`redoc.standalone.js.LICENSE.txt\`), package integrity \`$redoc_integrity\`:
NOTE
    echo "$redoc_files" | while IFS=: read -r from to; do
        echo "  - \`$to\`: \`$from\`, sha256 \`$(sha "$to")\`"
    done
} > "$dest/README.md"
echo "vendor-api-docs: copied $swagger_ui and $redoc to $dest"
