// Package core is the cgo layer over the gofer-scheduler C ABI that every engine package of
// this module (scheduler/docker, ...) shares: an engine handle chosen by engine type, its log
// reader and attach connection, and the translation of C statuses into the scheduler package's
// errors. Nothing here is specific to one engine type.
//
// Building needs cgo (CGO_ENABLED=1 and a C compiler) and the library, found through
// `pkg-config gofer_scheduler`: installed by scripts/install.sh, or a checkout's own build
// (bindings/go/gen-pkgconfig.sh writes its .pc).
package core

/*
#include <stdlib.h>
#include "gofer_scheduler.h"

// progress.go's exported callback, under the library's callback type (cgo drops the const).
// Not static: Go takes its address, which cgo cannot do for a static function.
extern void goferGoPullProgress(GoferPullProgress *progress, void *data);
void gofer_go_pull_progress(const GoferPullProgress *progress, void *data) {
	goferGoPullProgress((GoferPullProgress *)progress, data);
}
*/
import "C"

import (
	"context"
	"fmt"
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
	// Host is the engine's address (unix:///path, tcp://host:port, https://host:port); "" means
	// DOCKER_HOST, else the default unix socket, as the docker CLI.
	Host string
	// Timeout bounds every request (not streams); 0 means 60 s.
	Timeout time.Duration
	// Prune removes exited containers created by this library (never any other) every
	// PruneInterval (15 minutes when not positive).
	Prune         bool
	PruneInterval time.Duration
	// TLS reaches a tcp:// or https:// engine over mutual TLS; nil means as the docker CLI:
	// TLS when DOCKER_TLS_VERIFY is set, with the files in DOCKER_CERT_PATH (else ~/.docker).
	TLS *TLS
	// Nodes (swarm only) maps a node (its ID, hostname or address) to its own engine's
	// address, for attach and stop, which the swarm does not proxy.
	Nodes map[string]string
}

// TLS names the PEM files of a TLS engine. The engine's certificate is always verified.
type TLS struct {
	CA   string // the CA that signed the engine's certificate
	Cert string // the client's certificate ("" with Key "": none)
	Key  string // the client's key
}

// New connects to an engine of the given type (found as the docker CLI finds it: DOCKER_HOST,
// else the default unix socket) and checks that it answers.
func New(engineType scheduler.EngineType, opts Options) (*Engine, error) {
	var a cArena
	defer a.free()
	options := C.GoferEngineOptions{
		timeout_ms:        millis(opts.Timeout),
		prune:             C.bool(opts.Prune),
		prune_interval_ms: millis(opts.PruneInterval),
		engine_type:       a.str("EngineType", string(engineType)),
	}
	if opts.Host != "" {
		options.host = a.str("Host", opts.Host)
	}
	if opts.TLS != nil {
		options.tls_ca = a.str("TLS.CA", opts.TLS.CA)
		if opts.TLS.Cert != "" {
			options.tls_cert = a.str("TLS.Cert", opts.TLS.Cert)
		}
		if opts.TLS.Key != "" {
			options.tls_key = a.str("TLS.Key", opts.TLS.Key)
		}
	}
	if len(opts.Nodes) > 0 {
		options.node_names, options.node_hosts, options.node_count = a.pairs("Nodes", opts.Nodes)
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
		creq.env_keys, creq.env_values, creq.env_count = a.pairs("EnvVars", req.EnvVars)
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
	creq.memory_bytes = C.int64_t(req.Resources.MemoryBytes)
	creq.cpus = C.double(req.Resources.CPUs)
	creq.pids_limit = C.int64_t(req.Resources.PidsLimit)
	creq.shm_size_bytes = C.int64_t(req.Resources.ShmSizeBytes)
	if len(req.Mounts) > 0 {
		creq.mounts = a.mounts(req.Mounts)
		creq.mount_count = C.size_t(len(req.Mounts))
	}
	if req.WorkingDir != "" {
		creq.working_dir = a.str("WorkingDir", req.WorkingDir)
	}
	if req.User != "" {
		creq.user = a.str("User", req.User)
	}
	if len(req.Labels) > 0 {
		creq.label_keys, creq.label_values, creq.label_count = a.pairs("Labels", req.Labels)
	}
	creq.privileged = C.bool(req.Privileged)
	if a.err != nil {
		return scheduler.StartContainerResponse{}, a.err
	}
	if req.PullProgress != nil {
		data, release := newProgressData(req.PullProgress)
		defer release()
		creq.pull_progress = (*[0]byte)(C.gofer_go_pull_progress)
		creq.pull_progress_data = data
	}

	var result C.GoferStartResult
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_start(ptr, &creq, &result, &cerr), cerr)
	})
	if err != nil {
		return scheduler.StartContainerResponse{}, err
	}
	defer C.gofer_start_result_clear(&result)
	return scheduler.StartContainerResponse{
		URL:         C.GoString(result.url),
		ContainerID: C.GoString(result.container_id),
		ImageID:     C.GoString(result.image_id),
	}, nil
}

// mountKinds maps the scheduler package's mount types to the library's.
var mountKinds = map[scheduler.MountType]C.int32_t{
	scheduler.MountBind:   C.GOFER_MOUNT_BIND,
	scheduler.MountVolume: C.GOFER_MOUNT_VOLUME,
	scheduler.MountTmpfs:  C.GOFER_MOUNT_TMPFS,
}

// mounts copies ms to a C array of GoferMount, freed with the arena.
func (a *cArena) mounts(ms []scheduler.Mount) *C.GoferMount {
	array := (*C.GoferMount)(C.calloc(C.size_t(len(ms)), C.size_t(unsafe.Sizeof(C.GoferMount{}))))
	a.ptrs = append(a.ptrs, unsafe.Pointer(array))
	items := unsafe.Slice(array, len(ms))
	for i, m := range ms {
		kind, ok := mountKinds[m.Type]
		if !ok {
			a.fail(fmt.Sprintf("Mounts[%d].Type", i), fmt.Sprintf("%q is not bind, volume or tmpfs", m.Type))
			kind = -1
		}
		items[i].kind = kind
		if m.Type != scheduler.MountTmpfs {
			items[i].source = a.str(fmt.Sprintf("Mounts[%d].Source", i), m.Source)
		}
		items[i].target = a.str(fmt.Sprintf("Mounts[%d].Target", i), m.Target)
		items[i].read_only = C.bool(m.ReadOnly)
		items[i].tmpfs_size_bytes = C.int64_t(m.TmpfsSizeBytes)
	}
	return array
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
	var info C.GoferStateInfo
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_get_state_info(ptr, id, &info, &cerr), cerr)
	})
	if err != nil {
		return unknown, err
	}
	return stateOf(info), nil
}

// stateOf converts the library's state, with its OOM flag and times.
func stateOf(info C.GoferStateInfo) scheduler.GetStateResponse {
	return scheduler.GetStateResponse{
		ExitCode:   int64(info.exit_code),
		State:      containerState(info.state),
		OOMKilled:  bool(info.oom_killed),
		StartedAt:  unixTime(info.started_at_unix_ns),
		FinishedAt: unixTime(info.finished_at_unix_ns),
	}
}

// unixTime is the zero time for 0 (unset), else the instant, in UTC.
func unixTime(ns C.int64_t) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}

// WaitContainer blocks until the container has exited and returns its final state: EXITED or
// CANCELLED, with the exit code, the OOM flag and the times. It waits on the engine's wait
// endpoint (no polling); a container not yet started is waited for until it has run; a daemon
// restart does not end the wait. When ctx is done first, the wait ends and ctx's error is
// returned.
func (e *Engine) WaitContainer(ctx context.Context, req scheduler.WaitContainerRequest) (scheduler.WaitContainerResponse, error) {
	unknown := scheduler.WaitContainerResponse{State: scheduler.ContainerStateUnknown}
	var a cArena
	defer a.free()
	id := a.str("ID", req.ID)
	if a.err != nil {
		return unknown, a.err
	}
	if err := ctx.Err(); err != nil {
		return unknown, err
	}
	var wait *C.GoferWait
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		var status C.enum_GoferStatus
		gated(func() { status = C.gofer_engine_wait_container_nonblocking(ptr, id, &wait, &cerr) })
		return check(status, cerr)
	})
	if err != nil {
		return unknown, err
	}
	defer C.gofer_wait_free(wait)
	ready, err := newReadiness(C.gofer_wait_fd(wait))
	if err != nil {
		return unknown, err
	}
	defer ready.close()
	// The library's runtime waits; this goroutine parks in the netpoller on the wait's
	// descriptor, holding no thread. The handle outlives the engine, so no engine lock is
	// needed; a goroutine closes it when ctx is done, which makes the descriptor readable.
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			C.gofer_wait_close(wait)
		case <-done:
		}
	}()
	var info C.GoferStateInfo
	var cerr *C.GoferError
	var status C.enum_GoferStatus
	err = ready.wait(func() bool {
		status = C.gofer_wait_try_result(wait, &info, &cerr)
		return status != C.GOFER_WOULD_BLOCK
	})
	close(done)
	<-stopped
	if err == nil {
		err = check(status, cerr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return unknown, ctx.Err()
		}
		return unknown, err
	}
	return stateOf(info), nil
}

// ListContainers returns the containers this library manages (its label), oldest first, with
// their states, creation times and labels.
func (e *Engine) ListContainers() ([]scheduler.ContainerInfo, error) {
	var list *C.GoferContainerList
	err := e.call(func(ptr *C.GoferEngine) error {
		var cerr *C.GoferError
		return check(C.gofer_engine_list_containers(ptr, &list, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	defer C.gofer_container_list_free(list)
	n := int(C.gofer_container_list_len(list))
	out := make([]scheduler.ContainerInfo, 0, n)
	for i := 0; i < n; i++ {
		var c C.GoferContainerInfo
		var cerr *C.GoferError
		if err := check(C.gofer_container_list_get(list, C.size_t(i), &c, &cerr), cerr); err != nil {
			return nil, err
		}
		labels := make(map[string]string, int(c.label_count))
		keys := unsafe.Slice(c.label_keys, int(c.label_count))
		values := unsafe.Slice(c.label_values, int(c.label_count))
		for k := range keys {
			labels[C.GoString(keys[k])] = C.GoString(values[k])
		}
		out = append(out, scheduler.ContainerInfo{
			Name:      C.GoString(c.name),
			ID:        C.GoString(c.id),
			State:     stateOf(c.state),
			CreatedAt: unixTime(c.created_at_unix_ns),
			Labels:    labels,
		})
	}
	return out, nil
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
		var status C.enum_GoferStatus
		gated(func() { status = C.gofer_engine_get_logs_nonblocking(ptr, id, &logs, &cerr) })
		return check(status, cerr)
	})
	if err != nil {
		return nil, err
	}
	reader, err := openLogReader(logs)
	if err != nil {
		return nil, err // not a nil *logReader inside a non-nil io.Reader
	}
	return reader, nil
}

// GetLogFrames streams the container's log as frames, stdout and stderr apart, from its start
// until it exits, then io.EOF.
func (e *Engine) GetLogFrames(req scheduler.GetLogsRequest) (scheduler.FrameReader, error) {
	reader, err := e.GetLogs(req)
	if err != nil {
		return nil, err
	}
	return reader.(*logReader), nil
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

// pairs copies a map to two C arrays, its keys and its values in the same order, and their length.
func (a *cArena) pairs(field string, m map[string]string) (keys, values **C.char, count C.size_t) {
	ks := make([]string, 0, len(m))
	vs := make([]string, 0, len(m))
	for k, v := range m {
		ks = append(ks, k)
		vs = append(vs, v)
	}
	return a.strs(field, ks), a.strs(field, vs), C.size_t(len(ks))
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
// statusWouldBlock is not an error: the non-blocking calls' "nothing yet", handled where they
// are made.
const statusWouldBlock = C.GOFER_WOULD_BLOCK

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
