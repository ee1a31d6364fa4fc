// Package docker is the Docker implementation of scheduler.Engine, over the gofer-scheduler
// library (Rust, through its C ABI).
//
// The engine is found the way the docker CLI finds it: DOCKER_HOST, else the default unix
// socket. Every method blocks its goroutine until the engine answers (at most a minute per
// request), and is safe to call from many goroutines at once.
//
// Building needs cgo (CGO_ENABLED=1 and a C compiler) and the library: by default the static
// archive target/release/libgofer_scheduler.a of the checkout this package sits in (run
// `cargo build --release --lib` at its root first); with -tags gofer_pkgconfig, whatever
// `pkg-config gofer_scheduler` names (see bindings/go/gen-pkgconfig.sh).
package docker

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

// Orchestrator runs containers on the local Docker engine. Create it with New and release it
// with Close. Copies share one connection to the engine.
type Orchestrator struct {
	engine *engine
}

// The methods take the value, which holds only a pointer: Gofer's &orchestrator and a plain
// Orchestrator both implement scheduler.Engine.
var (
	_ scheduler.Engine = (*Orchestrator)(nil)
	_ scheduler.Engine = Orchestrator{}
)

// engine owns the C handle. It is separate from Orchestrator so that copies of the
// Orchestrator value share it, and so that a finalizer can free it.
type engine struct {
	// The C library forbids freeing an engine while a call on it runs: calls hold the read
	// lock, Close takes the write lock.
	mu  sync.RWMutex
	ptr *C.GoferEngine
}

// New connects to the Docker engine and checks that it answers. With prune, exited
// containers created by this library (never any other) are removed every pruneInterval
// (15 minutes when pruneInterval is not positive).
func New(prune bool, pruneInterval time.Duration) (Orchestrator, error) {
	options := C.GoferEngineOptions{prune: C.bool(prune), prune_interval_ms: millis(pruneInterval)}
	var ptr *C.GoferEngine
	var cerr *C.GoferError
	if err := check(C.gofer_engine_new(&options, &ptr, &cerr), cerr); err != nil {
		return Orchestrator{}, err
	}
	e := &engine{ptr: ptr}
	// A safety net for an Orchestrator dropped without Close.
	runtime.SetFinalizer(e, (*engine).close)
	return Orchestrator{engine: e}, nil
}

// Close releases the connection to the engine, after waiting for the calls in flight. Log
// readers and attach connections already returned stay usable. Later calls fail with
// scheduler.ErrInvalidState. Closing twice is harmless.
func (o Orchestrator) Close() error {
	if o.engine != nil {
		o.engine.close()
	}
	return nil
}

func (e *engine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	C.gofer_engine_free(e.ptr) // accepts NULL
	e.ptr = nil
}

// call runs f with the live C handle, or fails if the Orchestrator was closed (or is the zero
// value).
func (o Orchestrator) call(f func(*C.GoferEngine) error) error {
	e := o.engine
	if e == nil {
		return invalidState("the Orchestrator was not created by docker.New")
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return invalidState("the Orchestrator was closed")
	}
	err := f(e.ptr)
	runtime.KeepAlive(e) // the finalizer must not free the handle while C uses it
	return err
}

// StartContainer pulls the image when needed (always with AlwaysPull), replaces any container
// of the same name, and starts it. URL is "127.0.0.1:<port>" when Networking is set.
func (o Orchestrator) StartContainer(req scheduler.StartContainerRequest) (scheduler.StartContainerResponse, error) {
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
	err := o.call(func(e *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_start_container(e, &creq, &url, &cerr), cerr)
	})
	if err != nil {
		return scheduler.StartContainerResponse{}, err
	}
	defer C.gofer_string_free(url)
	return scheduler.StartContainerResponse{URL: C.GoString(url)}, nil
}

// StopContainer sends the container's stop signal, then SIGKILL once Timeout has passed.
// GetState then reports CANCELLED. Stopping a stopped container succeeds.
func (o Orchestrator) StopContainer(req scheduler.StopContainerRequest) error {
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return a.err
	}
	return o.call(func(e *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_stop_container(e, id, millis(req.Timeout), &cerr), cerr)
	})
}

// GetState reports the container's state and, once it has exited, its exit code.
func (o Orchestrator) GetState(req scheduler.GetStateRequest) (scheduler.GetStateResponse, error) {
	unknown := scheduler.GetStateResponse{State: scheduler.ContainerStateUnknown}
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return unknown, a.err
	}
	var state C.enum_GoferContainerState
	var code C.int64_t
	err := o.call(func(e *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_get_state(e, id, &state, &code, &cerr), cerr)
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
func (o Orchestrator) GetLogs(req scheduler.GetLogsRequest) (io.Reader, error) {
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return nil, a.err
	}
	var logs *C.GoferLogs
	err := o.call(func(e *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_get_logs(e, id, &logs, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	return newLogReader(logs), nil
}

// AttachContainer runs Command inside the running container with a TTY. Conn is a real
// net.Conn (deadlines work; it also has CloseWrite); Reader reads the same connection. Close
// Conn to end the session.
func (o Orchestrator) AttachContainer(req scheduler.AttachContainerRequest) (scheduler.AttachContainerResponse, error) {
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	command := a.strs("Command", req.Command)
	if a.err != nil {
		return scheduler.AttachContainerResponse{}, a.err
	}
	var session *C.GoferAttach
	err := o.call(func(e *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_attach_container(e, id, command, C.size_t(len(req.Command)), &session, &cerr), cerr)
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

// kinds maps every C status to the scheduler package's error kinds; anything unlisted (a
// panic caught in the library, a status newer than this binding) is ErrInternal.
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
