// Package core is the cgo layer over the gofer-scheduler C ABI that every engine package of
// this module (scheduler/docker, ...) shares: an engine handle chosen by engine type, its log
// reader and attach connection, and the translation of C statuses into the scheduler package's
// errors. Nothing here is specific to one engine type.
//
// Building needs cgo (CGO_ENABLED=1 and a C compiler) and the library: by default the static
// archive target/release/libgofer_scheduler.a of the checkout this package sits in (run
// `cargo build --release --lib` at its root first); with -tags gofer_pkgconfig, whatever
// `pkg-config gofer_scheduler` names (see bindings/go/gen-pkgconfig.sh).
package core

/*
#include <stdlib.h>
#include "gofer_scheduler.h"
*/
import "C"

import (
	"io"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// Engine owns one C engine handle. Its methods are safe for concurrent use; a nil *Engine (the
// zero value of an engine package's Orchestrator) refuses every call.
type Engine struct {
	// The C library forbids freeing an engine while a call on it runs: calls hold the read
	// lock, Close takes the write lock.
	mu  sync.RWMutex
	ptr *C.GoferEngine
}

// Options configure New.
type Options struct {
	// Prune removes exited containers created by this library (never any other) every
	// PruneInterval (15 minutes when not positive).
	Prune         bool
	PruneInterval time.Duration
}

// New connects to an engine of the given type (found as the docker CLI finds it: DOCKER_HOST,
// else the default unix socket) and checks that it answers.
func New(engineType scheduler.EngineType, opts Options) (*Engine, error) {
	var a cArena
	defer a.free()
	options := C.GoferEngineOptions{
		prune:             C.bool(opts.Prune),
		prune_interval_ms: millis(opts.PruneInterval),
		engine_type:       a.str("EngineType", string(engineType)),
	}
	if a.err != nil {
		return nil, a.err
	}
	var ptr *C.GoferEngine
	var cerr *C.GoferError
	if err := check(C.gofer_engine_new(&options, &ptr, &cerr), cerr); err != nil {
		return nil, err
	}
	e := &Engine{ptr: ptr}
	// A safety net for an engine dropped without Close.
	runtime.SetFinalizer(e, (*Engine).free)
	return e, nil
}

// Close releases the connection to the engine, after waiting for the calls in flight. Log
// readers and attach connections already returned stay usable. Later calls fail with
// scheduler.ErrInvalidState. Closing twice is harmless.
func (e *Engine) Close() error {
	if e != nil {
		e.free()
	}
	return nil
}

func (e *Engine) free() {
	e.mu.Lock()
	defer e.mu.Unlock()
	C.gofer_engine_free(e.ptr) // accepts NULL
	e.ptr = nil
}

// call runs f with the live C handle, or fails if the engine was closed (or is nil).
func (e *Engine) call(f func(*C.GoferEngine) error) error {
	if e == nil {
		return invalidState("the engine was not created by its package's New")
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return invalidState("the engine was closed")
	}
	err := f(e.ptr)
	runtime.KeepAlive(e) // the finalizer must not free the handle while C uses it
	return err
}

// StartContainer pulls the image when needed (always with AlwaysPull), replaces any container
// of the same name, and starts it. URL is "127.0.0.1:<port>" when Networking is set.
func (e *Engine) StartContainer(req scheduler.StartContainerRequest) (scheduler.StartContainerResponse, error) {
	var a cArena
	defer a.free()
	creq := C.GoferStartRequest{
		id:          a.str("ID", req.ID),
		image_name:  a.str("ImageName", req.ImageName),
		always_pull: C.bool(req.AlwaysPull),
	}
	if len(req.EnvVars) > 0 {
		keys := make([]string, 0, len(req.EnvVars))
		values := make([]string, 0, len(req.EnvVars))
		for k, v := range req.EnvVars {
			keys = append(keys, k)
			values = append(values, v)
		}
		creq.env_keys = a.strs("EnvVars", keys)
		creq.env_values = a.strs("EnvVars", values)
		creq.env_count = C.size_t(len(keys))
	}
	if req.RegistryAuth != nil {
		creq.registry_user = a.str("RegistryAuth.User", req.RegistryAuth.User)
		creq.registry_pass = a.str("RegistryAuth.Pass", req.RegistryAuth.Pass)
	}
	if req.Networking != nil {
		// In C, port 0 means "no networking": refuse it here rather than silently drop it.
		if req.Networking.Port == 0 {
			a.fail("Networking.Port", "0 is not in 1..=65535")
		}
		creq.port = C.int64_t(req.Networking.Port)
	}
	// nil stays NULL (the image's own); an empty slice is a non-NULL empty list.
	if req.Entrypoint != nil {
		creq.entrypoint = a.strs("Entrypoint", *req.Entrypoint)
		creq.entrypoint_count = C.size_t(len(*req.Entrypoint))
	}
	if req.Command != nil {
		creq.command = a.strs("Command", *req.Command)
		creq.command_count = C.size_t(len(*req.Command))
	}
	if a.err != nil {
		return scheduler.StartContainerResponse{}, a.err
	}

	var url *C.char
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_start_container(ptr, &creq, &url, &cerr), cerr)
	})
	if err != nil {
		return scheduler.StartContainerResponse{}, err
	}
	defer C.gofer_string_free(url)
	return scheduler.StartContainerResponse{URL: C.GoString(url)}, nil
}

// StopContainer sends the container's stop signal, then SIGKILL once Timeout has passed.
// GetState then reports CANCELLED. Stopping a stopped container succeeds.
func (e *Engine) StopContainer(req scheduler.StopContainerRequest) error {
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return a.err
	}
	return e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_stop_container(ptr, id, millis(req.Timeout), &cerr), cerr)
	})
}

// GetState reports the container's state and, once it has exited, its exit code.
func (e *Engine) GetState(req scheduler.GetStateRequest) (scheduler.GetStateResponse, error) {
	unknown := scheduler.GetStateResponse{State: scheduler.ContainerStateUnknown}
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return unknown, a.err
	}
	var state C.enum_GoferContainerState
	var code C.int64_t
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_get_state(ptr, id, &state, &code, &cerr), cerr)
	})
	if err != nil {
		return unknown, err
	}
	return scheduler.GetStateResponse{ExitCode: int64(code), State: containerState(state)}, nil
}

func containerState(s C.enum_GoferContainerState) scheduler.ContainerState {
	switch s {
	case C.GOFER_STATE_RUNNING:
		return scheduler.ContainerStateRunning
	case C.GOFER_STATE_PAUSED:
		return scheduler.ContainerStatePaused
	case C.GOFER_STATE_RESTARTING:
		return scheduler.ContainerStateRestarting
	case C.GOFER_STATE_EXITED:
		return scheduler.ContainerStateExited
	case C.GOFER_STATE_CANCELLED:
		return scheduler.ContainerStateCancelled
	default:
		return scheduler.ContainerStateUnknown
	}
}

// GetLogs streams the container's stdout and stderr from its start until it exits, then
// io.EOF. The reader is also an io.Closer: close it to stop early (a Read blocked in another
// goroutine then returns an error). A broken connection is an error, never io.EOF.
func (e *Engine) GetLogs(req scheduler.GetLogsRequest) (io.Reader, error) {
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return nil, a.err
	}
	var logs *C.GoferLogs
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_get_logs(ptr, id, &logs, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	return newLogReader(logs), nil
}

// AttachContainer runs Command inside the running container with a TTY. Conn is a real
// net.Conn (deadlines work; it also has CloseWrite); Reader reads the same connection. Close
// Conn to end the session.
func (e *Engine) AttachContainer(req scheduler.AttachContainerRequest) (scheduler.AttachContainerResponse, error) {
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	command := a.strs("Command", req.Command)
	if a.err != nil {
		return scheduler.AttachContainerResponse{}, a.err
	}
	var session *C.GoferAttach
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_attach_container(ptr, id, command, C.size_t(len(req.Command)), &session, &cerr), cerr)
	})
	if err != nil {
		return scheduler.AttachContainerResponse{}, err
	}
	conn, err := newAttachConn(session)
	if err != nil {
		return scheduler.AttachContainerResponse{}, err
	}
	return scheduler.AttachContainerResponse{Conn: conn, Reader: conn}, nil
}

// kinds maps every C status to the scheduler package's error kinds, one row each (a test walks
// the library's statuses and fails on one without its row); a status newer than this binding
// would be ErrInternal.
var kinds = map[C.enum_GoferStatus]error{
	C.GOFER_NO_SUCH_CONTAINER:        scheduler.ErrNoSuchContainer,
	C.GOFER_NO_SUCH_IMAGE:            scheduler.ErrNoSuchImage,
	C.GOFER_AMBIGUOUS_CONTAINER_NAME: scheduler.ErrAmbiguousContainerName,
	C.GOFER_INVALID_ARGUMENT:         scheduler.ErrInvalidArgument,
	C.GOFER_CONNECTION:               scheduler.ErrConnection,
	C.GOFER_TIMEOUT:                  scheduler.ErrTimeout,
	C.GOFER_CONTAINER_NOT_RUNNING:    scheduler.ErrContainerNotRunning,
	C.GOFER_ENGINE:                   scheduler.ErrEngine,
	C.GOFER_INVALID_STATE:            scheduler.ErrInvalidState,
	C.GOFER_INTERNAL:                 scheduler.ErrInternal,
	C.GOFER_PANIC:                    scheduler.ErrInternal,
}

// check turns a C status and its error object into a Go error, freeing the object. The
// library's messages already start with the kind's text ("scheduler: entity not found: ...").
func check(status C.enum_GoferStatus, cerr *C.GoferError) error {
	if status == C.GOFER_OK {
		return nil
	}
	defer C.gofer_error_free(cerr)
	kind, ok := kinds[status]
	if !ok {
		kind = scheduler.ErrInternal
	}
	return &scheduler.Error{
		Kind:       kind,
		Message:    C.GoString(C.gofer_error_message(cerr)),
		HTTPStatus: int(C.gofer_error_http_status(cerr)),
	}
}

func invalidState(why string) error {
	return &scheduler.Error{Kind: scheduler.ErrInvalidState, Message: scheduler.ErrInvalidState.Error() + ": " + why}
}

// millis converts a duration for the C API: negative is 0, and a positive fraction of a
// millisecond rounds up rather than becoming 0 (which means "kill at once" or "default").
func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	return C.uint64_t((d + time.Millisecond - 1) / time.Millisecond)
}

// cArena holds the C copies of a request's strings, all freed together once the call is done
// (the library borrows them only for the call). It records the first argument it cannot copy.
type cArena struct {
	ptrs []unsafe.Pointer
	err  error
}

// str copies s to C memory. A NUL would silently cut a C string short, so it is refused.
func (a *cArena) str(field, s string) *C.char {
	if strings.IndexByte(s, 0) >= 0 {
		a.fail(field, "contains a NUL byte")
	}
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p
}

// strs copies ss to a C array of C strings. The array is never NULL, even for an empty list,
// because the library tells NULL (absent) from an empty list.
func (a *cArena) strs(field string, ss []string) **C.char {
	array := (**C.char)(C.malloc(C.size_t(len(ss)+1) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	a.ptrs = append(a.ptrs, unsafe.Pointer(array))
	items := unsafe.Slice(array, len(ss)+1)
	for i, s := range ss {
		items[i] = a.str(field, s)
	}
	items[len(ss)] = nil
	return array
}

func (a *cArena) fail(field, why string) {
	if a.err == nil {
		a.err = &scheduler.Error{
			Kind:    scheduler.ErrInvalidArgument,
			Message: scheduler.ErrInvalidArgument.Error() + ": " + field + ": " + why,
		}
	}
}

func (a *cArena) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}

// status is one of the library's statuses, as the C ABI names and describes it.
type status struct {
	value       C.enum_GoferStatus
	name        string
	description string
}

// statuses lists every status of the library: they are contiguous from GOFER_OK, and the first
// value without a name ends the list.
func statuses() []status {
	var out []status
	for v := 0; ; v++ {
		name := C.GoString(C.gofer_status_name(C.int32_t(v)))
		if name == "GOFER_UNKNOWN_STATUS" {
			return out
		}
		out = append(out, status{C.enum_GoferStatus(v), name, C.GoString(C.gofer_status_description(C.int32_t(v)))})
	}
}
