#!/usr/bin/env bash
# Re-vendor the GraphiQL page's scripts and styles into src/entitle/graphql/static/ from the npm registry.
# Pinned versions; the README in that folder lists every file and where it comes from. Needs node + npm.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHIQL=3.8.3            # last GraphiQL with a UMD bundle (4.x/5.x are ESM + Monaco only)
EXPLORER=3.2.5            # @graphiql/plugin-explorer matching graphiql 3.8's @graphiql/react 0.28
REACT=18.3.1              # last React with UMD builds (react, react-dom)
GRAPHQL=16.11.0           # peer of the above; not copied (graphiql.min.js bundles its own graphql-js)

dest=src/entitle/graphql/static
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

(
  cd "$scratch"
  npm init -y >/dev/null
  npm install --no-audit --no-fund --ignore-scripts --legacy-peer-deps \
    "graphiql@$GRAPHIQL" "@graphiql/plugin-explorer@$EXPLORER" \
    "react@$REACT" "react-dom@$REACT" "graphql@$GRAPHQL" >/dev/null
)
nm="$scratch/node_modules"

cp "$nm/react/umd/react.production.min.js" "$dest/react.production.min.js"
cp "$nm/react-dom/umd/react-dom.production.min.js" "$dest/react-dom.production.min.js"
cp "$nm/graphiql/graphiql.min.js" "$dest/graphiql.min.js"
cp "$nm/graphiql/graphiql.min.css" "$dest/graphiql.min.css"
cp "$nm/@graphiql/plugin-explorer/dist/index.umd.js" "$dest/plugin-explorer.umd.js"
cp "$nm/@graphiql/plugin-explorer/dist/style.css" "$dest/plugin-explorer.css"
# graphiql.min.{js,css} reference source maps; we do not ship maps, so drop the comments (no 404s).
sed -i -e 's|//# sourceMappingURL=[^ ]*$||' "$dest/graphiql.min.js"
sed -i -e 's|/\*# sourceMappingURL=[^ ]*\*/||' "$dest/graphiql.min.css"

cp "$nm/react/LICENSE" "$dest/LICENSE.react.txt"
cp "$nm/react-dom/LICENSE" "$dest/LICENSE.react-dom.txt"
cp "$nm/graphiql/LICENSE" "$dest/LICENSE.graphiql.txt"
# The explorer plugin's npm package ships no LICENSE file; it is MIT (package.json) from the same
# monorepo (github.com/graphql/graphiql) whose LICENSE graphiql ships.
{
  echo "@graphiql/plugin-explorer@$EXPLORER: license \"MIT\" (package.json), from the graphql/graphiql monorepo,"
  echo "whose LICENSE follows. The bundle includes graphiql-explorer (MIT, OneGraph)."
  echo
  cat "$nm/graphiql/LICENSE"
} > "$dest/LICENSE.plugin-explorer.txt"

for name in graphiql @graphiql/plugin-explorer react react-dom; do
  node -e "const p=require('$nm/$name/package.json'); console.log(p.name + '@' + p.version + ' ' + p.license)"
done
(cd "$dest" && sha256sum ./*.js ./*.css)
