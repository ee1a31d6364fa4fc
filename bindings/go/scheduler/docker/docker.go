// Package docker is the Docker implementation of scheduler.Engine, over the gofer-scheduler
// library (Rust, through its C ABI).
//
// The engine is found the way the docker CLI finds it: DOCKER_HOST, else the default unix
// socket. Every method blocks its goroutine until the engine answers (at most a minute per
// request), and is safe to call from many goroutines at once.
//
// Building needs cgo (CGO_ENABLED=1 and a C compiler) and the library, found through
// `pkg-config gofer_scheduler`: installed by scripts/install.sh, or a checkout's own build
// (bindings/go/gen-pkgconfig.sh writes its .pc).
package docker

import (
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/internal/core"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// Orchestrator runs containers on the local Docker engine. Create it with New and release it
// with Close. Copies share one connection to the engine. Its methods are the library's engine
// handle's, the same for every engine type: the seed's (StartContainer, StopContainer,
// GetState, GetLogs, AttachContainer), WaitContainer, ListContainers, GetLogFrames, and Close.
type Orchestrator struct {
	*core.Engine
}

// The methods hold only a pointer: Gofer's &orchestrator and a plain Orchestrator both
// implement scheduler.Engine.
var (
	_ scheduler.Engine = (*Orchestrator)(nil)
	_ scheduler.Engine = Orchestrator{}
	// The operations beyond the seed's, for a caller to type-assert on its scheduler.Engine.
	_ scheduler.Waiter      = Orchestrator{}
	_ scheduler.Lister      = Orchestrator{}
	_ scheduler.FrameLogger = Orchestrator{}
)

// New connects to the Docker engine and checks that it answers. With prune, exited
// containers created by this library (never any other) are removed every pruneInterval
// (15 minutes when pruneInterval is not positive).
func New(prune bool, pruneInterval time.Duration) (Orchestrator, error) {
	return NewWithOptions(Options{Prune: prune, PruneInterval: pruneInterval})
}

// Options configure NewWithOptions: the engine's address, the request timeout, prune, TLS.
type Options = core.Options

// TLS names the PEM files of a TLS engine (CA, client certificate and key).
type TLS = core.TLS

// NewWithOptions is New with every option: an explicit address (a remote engine over TLS, say)
// instead of DOCKER_HOST, the request timeout, prune and TLS files.
func NewWithOptions(opts Options) (Orchestrator, error) {
	engine, err := core.New(scheduler.EngineDocker, opts)
	if err != nil {
		return Orchestrator{}, err
	}
	return Orchestrator{engine}, nil
}
