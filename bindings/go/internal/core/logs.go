package core

/*
#include "gofer_scheduler.h"
*/
import "C"

import (
	"io"
	"runtime"
	"sync"
	"unsafe"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// logReader is the io.ReadCloser that GetLogs returns. Its C stream is non-blocking: the
// library's runtime reads the log, and a Read waiting for bytes is a goroutine parked in the
// netpoller on the stream's descriptor, never an OS thread blocked in C.
type logReader struct {
	readMu sync.Mutex // one Read at a time: the C stream's contract
	mu     sync.Mutex // guards ptr and end; never held while a Read waits
	ptr    *C.GoferLogs
	ready  *readiness
	end    error // once ptr is released, what every Read returns
}

// openLogReader waits (in the netpoller) until the stream opened by
// gofer_engine_get_logs_nonblocking is open, so that an unknown container fails GetLogs as it
// always did; it owns ptr either way.
func openLogReader(ptr *C.GoferLogs) (*logReader, error) {
	ready, err := newReadiness(C.gofer_logs_fd(ptr))
	if err != nil {
		C.gofer_logs_free(ptr)
		return nil, err
	}
	r := &logReader{ptr: ptr, ready: ready}
	// A safety net for a reader dropped before its end without Close.
	runtime.SetFinalizer(r, (*logReader).Close)
	var status C.enum_GoferStatus
	var cerr *C.GoferError
	err = ready.wait(func() bool {
		status = C.gofer_logs_try_open(ptr, &cerr)
		return status != C.GOFER_WOULD_BLOCK
	})
	if err == nil {
		err = check(status, cerr)
	}
	if err != nil {
		r.release(err)
		return nil, err
	}
	return r, nil
}

// Read waits until some log bytes are available. It returns io.EOF once the container has
// exited and everything was read; a broken stream is a scheduler.ErrConnection error, and a
// closed reader a scheduler.ErrInvalidState error. The end, or the error, is final: every
// later Read returns it again.
func (r *logReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, err := r.read(p, false)
	return n, err
}

// frameSize is the most ReadFrame returns at once.
const frameSize = 64 * 1024

// ReadFrame returns the next frame: bytes of one of the process's streams, in the engine's
// order; io.EOF at the end, as Read. Frames and Reads may be mixed.
func (r *logReader) ReadFrame() (scheduler.LogFrame, error) {
	buf := make([]byte, frameSize)
	n, stream, err := r.read(buf, true)
	if err != nil {
		return scheduler.LogFrame{}, err
	}
	return scheduler.LogFrame{Stream: stream, Data: buf[:n:n]}, nil
}

// read is one read of the C stream; typed, a frame, which also says its stream.
func (r *logReader) read(p []byte, typed bool) (int, scheduler.LogStream, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	r.mu.Lock()
	ptr, end := r.ptr, r.end
	r.mu.Unlock()
	if ptr == nil {
		return 0, "", end
	}
	var n C.size_t
	var cerr *C.GoferError
	var status C.enum_GoferStatus
	var source C.enum_GoferLogStream
	// C writes straight into p: cgo keeps Go memory in place for the duration of the call.
	err := r.ready.wait(func() bool {
		status = C.gofer_logs_try_read(ptr, (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p)), &n, &source, &cerr)
		return status != C.GOFER_WOULD_BLOCK
	})
	runtime.KeepAlive(r)
	if err == nil {
		err = check(status, cerr)
	}
	if err == nil && n == 0 {
		err = io.EOF
	}
	if err != nil {
		// The stream is over. Free it now rather than at Close, which Gofer never calls on a
		// log reader; and keep the answer, since the C stream would say EOF after an error.
		r.release(err)
		return 0, "", err
	}
	stream := scheduler.LogStdout
	if typed && source == C.GOFER_STDERR {
		stream = scheduler.LogStderr
	}
	return int(n), stream, nil
}

// Close ends the stream and releases its connection. It may be called from any goroutine,
// also while another one is blocked in Read: that Read then returns an error (not io.EOF).
// Closing twice, or after the end, is harmless.
func (r *logReader) Close() error {
	r.mu.Lock()
	if r.ptr != nil {
		C.gofer_logs_close(r.ptr) // thread-safe, never blocks: its descriptor wakes a waiting Read
	}
	r.mu.Unlock()
	r.readMu.Lock() // the C stream may be freed only once no Read is inside it
	defer r.readMu.Unlock()
	r.release(invalidState("the log stream was closed"))
	return nil
}

func (r *logReader) release(end error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		r.ready.close()
		C.gofer_logs_free(r.ptr)
		r.ptr, r.end = nil, end
	}
}
