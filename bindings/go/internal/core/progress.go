package core

/*
#include <stdint.h>
#include <stdlib.h>
#include "gofer_scheduler.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// pullProgress is what a start hands the C library as its progress data: the caller's
// function, dropped once it has panicked (a panic must not unwind through C).
type pullProgress struct {
	report   func(scheduler.PullProgress)
	panicked bool
}

// newProgressData wraps report in a handle and returns the C memory that holds it, to pass as
// `pull_progress_data`; release frees both once the start has returned.
func newProgressData(report func(scheduler.PullProgress)) (data unsafe.Pointer, release func()) {
	h := cgo.NewHandle(&pullProgress{report: report})
	slot := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
	*slot = C.uintptr_t(h)
	return unsafe.Pointer(slot), func() {
		h.Delete()
		C.free(unsafe.Pointer(slot))
	}
}

// goferGoPullProgress is the C library's progress callback; it runs on the goroutine that
// called StartContainer, inside its C call.
//
//export goferGoPullProgress
func goferGoPullProgress(progress *C.GoferPullProgress, data unsafe.Pointer) {
	p, ok := cgo.Handle(*(*C.uintptr_t)(data)).Value().(*pullProgress)
	if !ok || p.panicked {
		return
	}
	defer func() {
		if recover() != nil {
			p.panicked = true
		}
	}()
	p.report(scheduler.PullProgress{
		Layer:   C.GoString(progress.layer),
		Status:  C.GoString(progress.status),
		Current: int64(progress.current),
		Total:   int64(progress.total),
	})
}
