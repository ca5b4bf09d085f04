#!/bin/sh
# Make tools/solc visible to py-solc-x (and so to ape-solidity) as an installed solc 0.8.28,
# so that `ape compile` never tries to download a compiler (there is no network here).
# py-solc-x looks for $SOLCX_BINARY_PATH/solc-v<version> (default ~/.solcx).
# The installed file is a two-line wrapper, not a copy: the shim finds solcjs relative to its
# own location (tools/../node_modules/solc), which a copied file would break.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/node_modules/solc/package.json').version" 2>/dev/null) || {
  echo "error: node_modules/solc missing: run \`npm ci\` in $root" >&2; exit 1; }
dest_dir=${SOLCX_BINARY_PATH:-$HOME/.solcx}
dest="$dest_dir/solc-v$version"
mkdir -p "$dest_dir"
printf '#!/bin/sh\nexec "%s/tools/solc" "$@"\n' "$root" > "$dest"
chmod +x "$dest"
"$dest" --version | tail -n 1
echo "installed $dest -> $root/tools/solc"
