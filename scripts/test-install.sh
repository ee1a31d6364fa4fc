#!/usr/bin/env bash
# The library as a user installs it, outside this checkout:
#   1. C: scripts/install.sh into a temporary prefix (and staged with DESTDIR); the shared
#      library's soname and links; examples/run_container.c, copied out of the checkout, built
#      with nothing but `pkg-config --cflags --libs gofer_scheduler` and run, linked dynamically
#      and statically (the library's archive; libc stays shared);
#   2. Go: a module outside the checkout with a copy of bindings/go as its only input (a require
#      and a replace, as a user does until the module is published), the library found through
#      pkg-config, no build tag, no path into the checkout: examples/go built and run.
# Each program runs a container on the test bed's engine and must print its exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
log() { echo "test-install: $*" >&2; }

gofer_need_packages gcc=gcc pkg-config=pkg-config go=golang-go readelf=binutils strip=binutils
scripts/testbed.sh up >/dev/null
gofer_testbed_env || exit 1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gofer-install.XXXXXX")
cleanup() {
  rm -rf "$WORK"
  for id in $(timeout 30 docker ps -aq --filter name=gofer-example- 2>/dev/null); do timeout 30 docker rm -f "$id" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
PREFIX=$WORK/prefix
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig

log "C: install into $PREFIX"
PREFIX=$PREFIX scripts/install.sh
ls -l "$PREFIX"/lib "$PREFIX"/include
soname=$(readelf -d "$PREFIX/lib/libgofer_scheduler.so.0.1.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == libgofer_scheduler.so.0.1 ]] || { log "soname is '$soname'"; exit 1; }
[[ $(readlink "$PREFIX/lib/libgofer_scheduler.so") == libgofer_scheduler.so.0.1 ]] || { log "bad .so link"; exit 1; }
pkg-config --exists gofer_scheduler || { log "pkg-config does not find gofer_scheduler"; exit 1; }

log "C: a staged install (DESTDIR) puts every file under it"
DESTDIR=$WORK/stage PREFIX=/usr scripts/install.sh
for f in usr/lib/libgofer_scheduler.so.0.1.0 usr/lib/libgofer_scheduler.a usr/include/gofer_scheduler.h usr/lib/pkgconfig/gofer_scheduler.pc; do
  [[ -e $WORK/stage/$f ]] || { log "missing $f"; exit 1; }
done
grep -qx 'prefix=/usr' "$WORK/stage/usr/lib/pkgconfig/gofer_scheduler.pc" || { log "the staged .pc does not name /usr"; exit 1; }

mkdir -p "$WORK/c"
cp examples/run_container.c "$WORK/c/"
cd "$WORK/c"
log "C: dynamic link with pkg-config only"
gcc -std=c11 -Wall -Wextra -Werror run_container.c $(pkg-config --cflags --libs gofer_scheduler) -o run_dynamic
ldd run_dynamic | grep -q 'libgofer_scheduler.so.0.1 =>' || { log "not linked to the shared library"; ldd run_dynamic; exit 1; }
log "C: static link of the library's archive (libc stays shared)"
gcc -std=c11 -Wall -Wextra -Werror run_container.c $(pkg-config --cflags gofer_scheduler) \
  -Wl,-Bstatic $(pkg-config --libs-only-l gofer_scheduler) -Wl,-Bdynamic $(pkg-config --libs-only-L gofer_scheduler) \
  $(pkg-config --static --libs-only-l gofer_scheduler | sed 's/-lgofer_scheduler//') -o run_static
if ldd run_static | grep -q libgofer_scheduler; then log "the static build still needs the shared library"; exit 1; fi
for build in run_dynamic run_static; do
  out=$(LD_LIBRARY_PATH=$PREFIX/lib timeout 120 "./$build" "$GOFER_TEST_IMAGE" sh -c 'echo from C; exit 3' 2>&1) && code=0 || code=$?
  [[ $code == 3 && $out == *"from C"* && $out == *"state: EXITED, exit code: 3"* ]] || { log "$build: exit $code: $out"; exit 1; }
  log "C: $build ran its container: exit code 3"
done

log "Go: a module outside the checkout, with a copy of the binding"
mkdir -p "$WORK/go/app"
cp -r "$ROOT/bindings/go" "$WORK/go/binding"
cp "$ROOT/examples/go/main.go" "$WORK/go/app/"
cd "$WORK/go/app"
cat >go.mod <<'MOD'
module example.com/app

go 1.19

require github.com/clintjedwards/gofer-scheduler/bindings/go v0.0.0

replace github.com/clintjedwards/gofer-scheduler/bindings/go => ../binding
MOD
GOFLAGS=-mod=mod CGO_ENABLED=1 timeout 600 go build -o app .
ldd app | grep -q 'libgofer_scheduler.so.0.1 =>' || { log "the Go program is not linked to the installed library"; exit 1; }
out=$(LD_LIBRARY_PATH=$PREFIX/lib timeout 120 ./app "$GOFER_TEST_IMAGE" sh -c 'echo from Go; exit 4' 2>&1) && code=0 || code=$?
[[ $code == 4 && $out == *"from Go"* && $out == *"state: EXITED, exit code: 4"* ]] || { log "Go app: exit $code: $out"; exit 1; }
log "Go: the program built outside the checkout ran its container: exit code 4"
log "installed sizes: $(du -b "$PREFIX/lib/libgofer_scheduler.so.0.1.0" | cut -f1) bytes (.so), $(du -b "$PREFIX/lib/libgofer_scheduler.a" | cut -f1) bytes (.a)"
log "all install checks passed"
