#!/bin/sh
# Writes gofer_scheduler.pc for a built checkout (cargo build --release --lib), so that the Go
# binding, which finds the library through pkg-config, builds against the checkout's own build:
#
#   bindings/go/gen-pkgconfig.sh [DIR]            # DIR defaults to target/release
#   PKG_CONFIG_PATH=DIR go build ./...
#
# It names the static archive, so that the programs need no shared library at run time. An
# installed library (scripts/install.sh) has a gofer_scheduler.pc of its own.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/release}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
mkdir -p "$out"
cat >"$out/gofer_scheduler.pc" <<EOF
libdir=$root/target/release
includedir=$root/include

Name: gofer_scheduler
Description: Gofer's container-scheduler engine (C ABI)
Version: $version
Cflags: -I\${includedir}
Libs: \${libdir}/libgofer_scheduler.a -lm -ldl -lpthread
EOF
echo "$out/gofer_scheduler.pc"
