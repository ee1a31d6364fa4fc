//go:build gofer_pkgconfig

package core

// With -tags gofer_pkgconfig, the header and the library come from `pkg-config gofer_scheduler`
// (set PKG_CONFIG_PATH to the directory holding gofer_scheduler.pc), for programs built outside
// this repository. bindings/go/gen-pkgconfig.sh writes that file for a built checkout.

// #cgo pkg-config: gofer_scheduler
import "C"
