#!/usr/bin/env bash
# The vendored Swagger UI (assets/swagger-ui/) is byte for byte the pinned npm release:
# downloads its tarball (npm pack), checks the tarball's sha512 against the pinned
# integrity, then compares every vendored file with the tarball's copy.
set -euo pipefail
VERSION=5.35.0
INTEGRITY="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="
root="$(cd "$(dirname "$0")/.." && pwd)"
assets="$root/assets/swagger-ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
grep -q "\"$VERSION\"" "$root/src/http/docs.rs" ||
  { echo "src/http/docs.rs does not name Swagger UI $VERSION" >&2; exit 1; }
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null)
tgz="$work/swagger-ui-dist-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] ||
  { echo "swagger-ui-dist $VERSION: tarball integrity $got, pinned $INTEGRITY" >&2; exit 1; }
tar -xzf "$tgz" -C "$work"
n=0
for f in "$assets"/*; do
  name="$(basename "$f")"
  [ "$name" = README.md ] && continue
  cmp -s "$f" "$work/package/$name" ||
    { echo "assets/swagger-ui/$name differs from swagger-ui-dist $VERSION" >&2; exit 1; }
  n=$((n + 1))
done
echo "assets/swagger-ui: $n files identical to swagger-ui-dist $VERSION ($INTEGRITY)"
