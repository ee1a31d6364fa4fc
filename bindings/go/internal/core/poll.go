package core

/*
#define _GNU_SOURCE
#include <fcntl.h>

// fcntl is variadic, which cgo cannot call.
static int gofer_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// cgoGate bounds the short cgo calls of the non-blocking paths in flight at once to
// GOMAXPROCS. Without it, a burst (hundreds of goroutines opening logs or asking for what is
// there at the same moment) keeps every P inside C for a few microseconds each, the runtime
// hands each P to a new OS thread meanwhile, and those threads stay for the life of the
// process. Goroutines waiting at the gate are parked, holding no thread.
var cgoGate = make(chan struct{}, runtime.GOMAXPROCS(0))

// gated runs f, a short cgo call, through cgoGate.
func gated(f func()) {
	cgoGate <- struct{}{}
	defer func() { <-cgoGate }()
	f()
}

// readiness puts the descriptor of a non-blocking C handle (a log stream, a wait) in Go's
// netpoller, so that a goroutine waiting on the handle holds no OS thread: a thousand followed
// logs are a thousand parked goroutines, not a thousand threads blocked in C.
//
// The library owns its descriptor; this holds a duplicate (close-on-exec), so that closing the
// *os.File never closes the library's.
type readiness struct {
	file *os.File
	conn syscall.RawConn
}

func newReadiness(fd C.int) (*readiness, error) {
	if fd < 0 {
		return nil, invalidState("the handle has no descriptor")
	}
	var dup C.int
	var err error
	gated(func() { dup, err = C.gofer_dup_cloexec(fd) })
	if dup < 0 {
		return nil, fmt.Errorf("scheduler: internal error: dup of the handle's descriptor: %w", err)
	}
	// The duplicate shares the library's O_NONBLOCK, so the file is pollable.
	file := os.NewFile(uintptr(dup), "gofer-scheduler")
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("scheduler: internal error: %w", err)
	}
	return &readiness{file: file, conn: conn}, nil
}

// wait calls try until it says it is done, parking the goroutine in the netpoller while the
// descriptor is not readable. try must return false only after the C call said
// GOFER_WOULD_BLOCK (which leaves the descriptor clear until there is something new).
func (r *readiness) wait(try func() bool) error {
	return r.conn.Read(func(uintptr) bool {
		done := false
		gated(func() { done = try() })
		return done
	})
}

func (r *readiness) close() {
	r.file.Close()
}
