#!/bin/sh
# Copy a browser bundle from its npm package (pinned with its integrity hash in
# package-lock.json) into the tree, licence beside it, so that installing facilbot and running
# its tests need no Node.js. Run it after changing a version in package.json, and with --check
# to verify that a committed copy equals the package's.
#
#   scripts/vendor-npm.sh zoom-sdk [--check]   the Zoom Apps SDK: the producer console imports
#                                              this copy inside the Zoom client (never a CDN)
#   scripts/vendor-npm.sh axe-core [--check]   axe-core: the browser tests run it inside the
#                                              pages (through the DevTools protocol, so the
#                                              pages' policy stays strict) and fail on any
#                                              serious or critical accessibility violation;
#                                              a test tool, it never ships
set -eu
cd "$(dirname "$0")/.."

case "${1:-}" in
zoom-sdk)
    package=@zoom/appssdk licence=MIT dest=facilbot/pages/static/vendor
    heading="Vendored browser code"
    bundle_from=dist/sdk.es.js bundle=zoom-appssdk.es.js
    licence_from=LICENSE.md licence_file=zoom-appssdk.LICENSE.md
    ;;
axe-core)
    package=axe-core licence=MPL-2.0 dest=tests/pages/vendor
    heading="Vendored test tools"
    bundle_from=axe.min.js bundle=axe.min.js
    licence_from=LICENSE licence_file=axe-core.LICENSE
    ;;
*)
    echo "usage: scripts/vendor-npm.sh zoom-sdk|axe-core [--check]" >&2
    exit 2
    ;;
esac
name=$1
me="vendor-npm $name"

if ! command -v npm >/dev/null 2>&1; then
    echo "$me: npm is needed (Debian: apt-get install npm)" >&2
    exit 2
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
version=$(node -p "require('./node_modules/$package/package.json').version")

if [ "${2:-}" = "--check" ]; then
    status=0
    for pair in "$bundle_from:$bundle" "$licence_from:$licence_file"; do
        from=node_modules/$package/${pair%%:*}
        to=$dest/${pair#*:}
        if ! cmp -s "$from" "$to"; then
            echo "$me: $to differs from $package $version ($from);" \
                "run scripts/vendor-npm.sh $name" >&2
            status=1
        fi
    done
    [ $status -eq 0 ] && echo "$me: $dest matches $package $version"
    exit $status
fi

mkdir -p "$dest"
cp "node_modules/$package/$bundle_from" "$dest/$bundle"
cp "node_modules/$package/$licence_from" "$dest/$licence_file"
sha=$(sha256sum "$dest/$bundle" | cut -d' ' -f1)
cat > "$dest/README.md" <<NOTE
# $heading

- \`$bundle\`: \`$bundle_from\` of the npm package \`$package\` $version ($licence, see
  \`$licence_file\`), sha256 \`$sha\`. Copied by \`scripts/vendor-npm.sh $name\` from the
  version pinned in \`package-lock.json\`; never edit it by hand.
NOTE
echo "$me: copied $package $version to $dest/$bundle"
