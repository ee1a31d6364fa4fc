#!/usr/bin/env bash
# Installs the C library as distributions package one (the layout cargo-c's `cargo cinstall`
# makes): the shared library with its soname, the static archive, the header and a pkg-config
# file, under a prefix.
#
#   scripts/install.sh                         # PREFIX=/usr/local
#   PREFIX=/opt/gofer scripts/install.sh
#   DESTDIR=/tmp/stage PREFIX=/usr scripts/install.sh   # staged, as a package build does
#   STRIP=0 scripts/install.sh                 # keep the debug information (line tables)
#
# Layout (version 0.1.0; a 0.x version breaks its ABI at every minor, so the soname carries it):
#   $LIBDIR/libgofer_scheduler.so.0.1.0      the shared library, soname libgofer_scheduler.so.0.1
#   $LIBDIR/libgofer_scheduler.so.0.1 -> libgofer_scheduler.so.0.1.0
#   $LIBDIR/libgofer_scheduler.so     -> libgofer_scheduler.so.0.1   (for -lgofer_scheduler)
#   $LIBDIR/libgofer_scheduler.a
#   $LIBDIR/pkgconfig/gofer_scheduler.pc
#   $INCLUDEDIR/gofer_scheduler.h
# Then: cc prog.c $(pkg-config --cflags --libs gofer_scheduler)   (PKG_CONFIG_PATH=$LIBDIR/pkgconfig
# for a prefix pkg-config does not search), and at run time the loader must find the library
# (ldconfig, or LD_LIBRARY_PATH=$LIBDIR).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DESTDIR=${DESTDIR:-}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
MAJOR=${VERSION%%.*}
MINOR=${VERSION#*.}; MINOR=${MINOR%%.*}
# The soname's version: the major, or major.minor while the major is 0 (build.rs sets the same).
SOVERSION=$MAJOR; [[ $MAJOR != 0 ]] || SOVERSION=$MAJOR.$MINOR

log() { echo "install: $*" >&2; }

log "building the library (release)"
cargo build --release --lib --quiet
# What the static archive needs from the system, as rustc reports it (a build of its own, made
# once per lock file: it would otherwise rebuild the crate at every install).
cache=target/release/native-static-libs
if [[ ! -s $cache || Cargo.lock -nt $cache ]]; then
  CARGO_TARGET_DIR=target/native-libs cargo rustc --release --lib --quiet --crate-type staticlib -- \
    --print native-static-libs 2>&1 | sed -n 's/.*native-static-libs: //p' | tail -n 1 >"$cache"
fi
native=$(cat "$cache")
[[ -n $native ]] || native="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

lib=$DESTDIR$LIBDIR
log "installing into ${DESTDIR}$PREFIX"
install -d "$lib/pkgconfig" "$DESTDIR$INCLUDEDIR"
install -m 755 target/release/libgofer_scheduler.so "$lib/libgofer_scheduler.so.$VERSION"
install -m 644 target/release/libgofer_scheduler.a "$lib/libgofer_scheduler.a"
# The build keeps line tables for backtraces; installed copies go without debug information
# (STRIP=0 keeps it), as distributions ship them.
if [[ ${STRIP:-1} != 0 ]]; then
  strip --strip-debug "$lib/libgofer_scheduler.so.$VERSION" "$lib/libgofer_scheduler.a"
fi
ln -sfn "libgofer_scheduler.so.$VERSION" "$lib/libgofer_scheduler.so.$SOVERSION"
ln -sfn "libgofer_scheduler.so.$SOVERSION" "$lib/libgofer_scheduler.so"
install -m 644 include/gofer_scheduler.h "$DESTDIR$INCLUDEDIR/gofer_scheduler.h"
cat >"$lib/pkgconfig/gofer_scheduler.pc" <<PC
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: gofer_scheduler
Description: Gofer's container-scheduler engine (C ABI)
Version: $VERSION
Libs: -L\${libdir} -lgofer_scheduler
Libs.private: $native
Cflags: -I\${includedir}
PC
log "installed $LIBDIR/libgofer_scheduler.so.$VERSION (soname libgofer_scheduler.so.$SOVERSION), .a, gofer_scheduler.h, gofer_scheduler.pc"
