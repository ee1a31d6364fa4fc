// Package scheduler defines the interface in which a scheduler must adhere to. A scheduler is
// the mechanism in which gofer uses to schedule taskruns/containers.
//
// The names, types and sentinel errors are those of Gofer's own scheduler package, so that
// Gofer can swap its Docker scheduler for this one by changing imports only. The Docker
// implementation lives in the docker subpackage.
package scheduler

import (
	"io"
	"net"
	"time"
)

// EngineType names a scheduler implementation.
type EngineType string

const (
	// EngineDocker uses local docker instance to schedule tasks.
	EngineDocker EngineType = "docker"
)

// ContainerState is the state of a container as the scheduler reports it.
type ContainerState string

const (
	// The state of the run is unknown.
	ContainerStateUnknown ContainerState = "UNKNOWN"
	// Currently running. A created container that has not started yet is reported as running.
	ContainerStateRunning ContainerState = "RUNNING"
	// Container is paused.
	ContainerStatePaused     ContainerState = "PAUSED"
	ContainerStateRestarting ContainerState = "RESTARTING"
	// The container exited on its own.
	ContainerStateExited ContainerState = "EXITED"
	// The container was stopped through StopContainer.
	ContainerStateCancelled ContainerState = "CANCELLED"
)

// Networking is used to communicate to the container via RPC. This is only needed by
// extensions.
type Networking struct {
	// The bind port of the internal application within the container. This allows us to
	// specify which ports extensions come up on and enables downstream schedulers to properly
	// account for that and port map correctly.
	Port int
}

// RegistryAuth holds the credentials of a private image registry.
type RegistryAuth struct {
	User string
	Pass string
}

type StartContainerRequest struct {
	ID        string            // Unique identifier for the container.
	ImageName string            // The docker image repository endpoint of the container; tag can be included.
	EnvVars   map[string]string // Environment variables to be passed to the container
	// User/Pass for auth registry
	RegistryAuth *RegistryAuth
	// Even if the container exists attempt to pull from repository. This is useful if your
	// containers don't use proper tagging or versioning.
	AlwaysPull bool
	// Networking is used to communicate to the container via RPC. This is only needed by
	// extensions.
	Networking *Networking
	// nil means the image's own entrypoint; a pointer to an empty slice means none.
	Entrypoint *[]string
	// nil means the image's own command.
	Command *[]string
}

type StartContainerResponse struct {
	URL string // optional endpoint if "EnableNetworking" was used.
}

type StopContainerRequest struct {
	ID string
	// How long the container may take to stop after its stop signal before it is killed;
	// 0 kills at once. Honoured to the millisecond (Gofer stops with 500 ms).
	Timeout time.Duration
}

type GetStateRequest struct {
	ID string // unique identification for container.
}

type GetStateResponse struct {
	ExitCode int64
	State    ContainerState
}

type GetLogsRequest struct {
	ID string
}

type AttachContainerRequest struct {
	ID      string
	Command []string
}

type AttachContainerResponse struct {
	Conn   net.Conn
	Reader io.Reader
}

type Engine interface {
	// StartContainer launches a new container on scheduler.
	StartContainer(request StartContainerRequest) (response StartContainerResponse, err error)

	// StopContainer attempts to stop a specific container identified by a unique container
	// name. The scheduler should attempt to gracefully stop the container, unless the timeout
	// is reached.
	StopContainer(request StopContainerRequest) error

	// GetState returns the current state of the container translated to the
	// "models.ContainerState" enum.
	GetState(request GetStateRequest) (response GetStateResponse, err error)

	// GetLogs reads logs from the container and passes it back to the caller via an io.Reader.
	// This io.reader can be written to from a goroutine so that they user gets logs as they are
	// streamed from the container. Finally once finished the io.reader should be close with an
	// EOF denoting that there are no more logs to be read.
	GetLogs(request GetLogsRequest) (logs io.Reader, err error)

	// Attach to a running container for debugging or other purposes. Returns a net connection,
	// should be closed when finished.
	AttachContainer(request AttachContainerRequest) (response AttachContainerResponse, err error)
}
