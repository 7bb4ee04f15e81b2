#!/bin/sh
# Copy the Zoom Apps SDK's browser bundle from its npm package (@zoom/appssdk, pinned with its
# integrity hash in package-lock.json) into facilbot/pages/static/vendor/. The pages never load
# it from a CDN: the producer console imports this copy when it runs inside the Zoom client.
#
#   scripts/vendor-zoom-sdk.sh          install the pinned package and copy the bundle
#   scripts/vendor-zoom-sdk.sh --check  only verify the committed copy equals the package's
#
# The copy is committed (MIT licence, kept beside it) so that installing facilbot needs no
# Node.js; run this after changing the version in package.json, and in CI with --check.
set -eu
cd "$(dirname "$0")/.."

package=node_modules/@zoom/appssdk
dest=facilbot/pages/static/vendor
bundle=zoom-appssdk.es.js
licence=zoom-appssdk.LICENSE.md

if ! command -v npm >/dev/null 2>&1; then
    echo "vendor-zoom-sdk: npm is needed (Debian: apt-get install npm)" >&2
    exit 2
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
version=$(node -p "require('./$package/package.json').version")

if [ "${1:-}" = "--check" ]; then
    status=0
    for pair in "dist/sdk.es.js:$bundle" "LICENSE.md:$licence"; do
        from=$package/${pair%%:*}
        to=$dest/${pair#*:}
        if ! cmp -s "$from" "$to"; then
            echo "vendor-zoom-sdk: $to differs from @zoom/appssdk $version ($from);" \
                "run scripts/vendor-zoom-sdk.sh" >&2
            status=1
        fi
    done
    [ $status -eq 0 ] && echo "vendor-zoom-sdk: $dest matches @zoom/appssdk $version"
    exit $status
fi

mkdir -p "$dest"
cp "$package/dist/sdk.es.js" "$dest/$bundle"
cp "$package/LICENSE.md" "$dest/$licence"
sha=$(sha256sum "$dest/$bundle" | cut -d' ' -f1)
cat > "$dest/README.md" <<NOTE
# Vendored browser code

- \`$bundle\`: \`dist/sdk.es.js\` of the npm package \`@zoom/appssdk\` $version (MIT, see
  \`$licence\`), sha256 \`$sha\`. Copied by \`scripts/vendor-zoom-sdk.sh\` from the version
  pinned in \`package-lock.json\`; never edit it by hand.
NOTE
echo "vendor-zoom-sdk: copied @zoom/appssdk $version to $dest/$bundle"
