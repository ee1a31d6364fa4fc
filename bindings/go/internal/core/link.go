package core

// The header and the library come from `pkg-config gofer_scheduler`, as for any C library:
// after `scripts/install.sh` (PREFIX=/usr/local by default; set PKG_CONFIG_PATH to
// $PREFIX/lib/pkgconfig for a prefix pkg-config does not search). Inside a checkout,
// bindings/go/gen-pkgconfig.sh writes a gofer_scheduler.pc that names the checkout's static
// archive (target/release/libgofer_scheduler.a); the test scripts point PKG_CONFIG_PATH at it.

// #cgo pkg-config: gofer_scheduler
import "C"
