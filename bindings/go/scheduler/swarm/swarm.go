// Package swarm is the Docker Swarm implementation of scheduler.Engine, over the gofer-scheduler
// library (Rust, through its C ABI): every task is a replicated-job service of one task that
// runs once, placed by the swarm on one of its nodes.
//
// The engine talks to a swarm manager. Attach and stop go to the engine of the node that runs
// the task (the swarm proxies neither exec nor signals): Options.Nodes says how to reach each
// node's engine. Every method blocks its goroutine until the swarm answers (at most the request
// timeout per request), and is safe to call from many goroutines at once. What differs from a
// single engine is in docs/contract.md, "Swarm".
//
// Building needs cgo (CGO_ENABLED=1 and a C compiler) and the library, found through
// `pkg-config gofer_scheduler`.
package swarm

import (
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/internal/core"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// Orchestrator runs tasks on a Docker Swarm. Create it with New and release it with Close.
// Copies share one connection to the manager. Its methods are the library's engine handle's,
// the same as the docker package's: the seed's (StartContainer, StopContainer, GetState,
// GetLogs, AttachContainer), WaitContainer, ListContainers, GetLogFrames, and Close.
type Orchestrator struct {
	*core.Engine
}

var (
	_ scheduler.Engine      = (*Orchestrator)(nil)
	_ scheduler.Engine      = Orchestrator{}
	_ scheduler.Waiter      = Orchestrator{}
	_ scheduler.Lister      = Orchestrator{}
	_ scheduler.FrameLogger = Orchestrator{}
)

// TLS names the PEM files of a TLS engine (CA, client certificate and key); the nodes' engines
// are reached with the same files.
type TLS = core.TLS

// Options configure New.
type Options struct {
	// Manager is a swarm manager's address (unix:///path, tcp://host:port, https://host:port);
	// "" means DOCKER_HOST, else the default unix socket, as the docker CLI.
	Manager string
	// Nodes maps a node (its ID, hostname or address, as `docker node inspect` shows them) to
	// its own engine's address. Attach and stop of a task on a node without one fail with
	// scheduler.ErrInvalidArgument.
	Nodes map[string]string
	// Timeout bounds every request (not streams); 0 means 60 s.
	Timeout time.Duration
	// Prune removes the services of this library whose task has ended (never any other) every
	// PruneInterval (15 minutes when not positive).
	Prune         bool
	PruneInterval time.Duration
	// TLS reaches the manager (and the nodes) over mutual TLS; nil means as the docker CLI.
	TLS *TLS
}

// New connects to the swarm manager and checks that it manages a swarm (an engine that is in
// no swarm, or a worker, is scheduler.ErrEngine).
func New(opts Options) (Orchestrator, error) {
	engine, err := core.New(scheduler.EngineSwarm, core.Options{
		Host:          opts.Manager,
		Timeout:       opts.Timeout,
		Prune:         opts.Prune,
		PruneInterval: opts.PruneInterval,
		TLS:           opts.TLS,
		Nodes:         opts.Nodes,
	})
	if err != nil {
		return Orchestrator{}, err
	}
	return Orchestrator{engine}, nil
}
