//go:build !gofer_pkgconfig

package core

// By default the library package links the static library built in this repository
// (`cargo build --release --lib` at the repository root), found relative to this file: a
// program built this way needs no shared library at run time. The go command does not notice
// when that archive changes (see `go help cache`); rebuild with -a, or change CGO_CFLAGS, after
// rebuilding it. Build with -tags gofer_pkgconfig to find the library through pkg-config.

// #cgo CFLAGS: -I${SRCDIR}/../../../../include
// #cgo LDFLAGS: ${SRCDIR}/../../../../target/release/libgofer_scheduler.a -lm -ldl -lpthread
import "C"
