// Package scheduler defines the interface in which a scheduler must adhere to. A scheduler is
// the mechanism in which gofer uses to schedule taskruns/containers.
//
// The names, types and sentinel errors are those of Gofer's own scheduler package, so that
// Gofer can swap its Docker scheduler for this one by changing imports only. The Docker
// implementation lives in the docker subpackage, the Docker Swarm one in the swarm subpackage.
package scheduler

import (
	"context"
	"io"
	"net"
	"time"
)

// EngineType names a scheduler implementation.
type EngineType string

const (
	// EngineDocker uses local docker instance to schedule tasks.
	EngineDocker EngineType = "docker"
	// EngineSwarm runs every task as a replicated-job service of a Docker Swarm.
	EngineSwarm EngineType = "swarm"
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

	// The fields below are this module's, beyond the seed's; their zero values change nothing.

	// Resources limits memory, CPU, processes and shared memory.
	Resources Resources
	// Mounts are file systems mounted into the container.
	Mounts []Mount
	// WorkingDir is the process's working directory (absolute); "" means the image's.
	WorkingDir string
	// User is the user (and group) the process runs as ("1000", "1000:1000"); "" means the image's.
	User string
	// Labels are set on the container beside the library's own, which they cannot override.
	Labels map[string]string
	// Privileged runs the container with every device and capability and no confinement: a
	// security decision of the caller.
	Privileged bool
	// PullProgress, when set, is called with every message of the image's pull as it comes, on
	// the goroutine that called StartContainer, before it returns. If it panics, the panic is
	// recovered, it is not called again, and the start goes on.
	PullProgress func(PullProgress)
}

// PullProgress is one message of an image pull's progress, as the engine reports it per layer.
type PullProgress struct {
	Layer  string // the layer's short ID, or the tag for messages about the whole image; may be ""
	Status string // "Pulling fs layer", "Downloading", "Extracting", "Pull complete"...
	// Bytes done and in all; -1 when the engine does not say.
	Current int64
	Total   int64
}

// Resources limits what a container may use; a zero field means no limit.
type Resources struct {
	// MemoryBytes is at least 6 MiB (the engine's minimum); swap is disabled so that it holds.
	MemoryBytes int64
	// CPUs is fractional, as `docker run --cpus` (1.5), at least 0.01.
	CPUs float64
	// PidsLimit bounds the processes (and threads) alive at once.
	PidsLimit int64
	// ShmSizeBytes is the size of /dev/shm.
	ShmSizeBytes int64
}

// MountType says what a Mount mounts.
type MountType string

const (
	// MountBind mounts Source, a path of the engine's host (absolute; it must exist).
	MountBind MountType = "bind"
	// MountVolume mounts the named volume Source, created by the engine when missing.
	MountVolume MountType = "volume"
	// MountTmpfs mounts a fresh tmpfs of TmpfsSizeBytes (0: the engine's default).
	MountTmpfs MountType = "tmpfs"
)

// Mount is a file system mounted into the container at Target, an absolute path.
type Mount struct {
	Type           MountType
	Source         string
	Target         string
	ReadOnly       bool
	TmpfsSizeBytes int64
}

type StartContainerResponse struct {
	URL string // optional endpoint if "EnableNetworking" was used.

	// ContainerID is the container's full ID.
	ContainerID string
	// ImageID is the ID of the image the container runs ("sha256:...").
	ImageID string
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

	// OOMKilled says the kernel killed the process for lack of memory (the engine's own flag,
	// never guessed from exit code 137).
	OOMKilled bool
	// StartedAt is when the container started; zero while it has not.
	StartedAt time.Time
	// FinishedAt is when it stopped; zero while it has not.
	FinishedAt time.Time
}

type WaitContainerRequest struct {
	ID string
}

// WaitContainerResponse is the container's final state: EXITED or CANCELLED.
type WaitContainerResponse = GetStateResponse

// ContainerInfo is a container this library manages, as ListContainers gives it.
type ContainerInfo struct {
	Name      string // the ID it was started with
	ID        string // its full ID
	State     GetStateResponse
	CreatedAt time.Time
	Labels    map[string]string
}

// LogStream names one of a process's outputs.
type LogStream string

const (
	LogStdout LogStream = "stdout"
	LogStderr LogStream = "stderr"
)

// LogFrame is a piece of a container's log, from one of its streams.
type LogFrame struct {
	Stream LogStream
	Data   []byte
}

// FrameReader reads a container's log as frames, stdout and stderr apart, in the engine's
// order. ReadFrame returns io.EOF once the container has exited and everything was read; a
// broken stream is an error, never io.EOF. Close ends it, also from another goroutine.
type FrameReader interface {
	ReadFrame() (LogFrame, error)
	io.Closer
}

// The small interfaces of the operations this module adds beside the seed's Engine: a caller
// holding a scheduler.Engine type-asserts the one it needs.

// Waiter waits for a container's exit on the engine's wait endpoint instead of polling. The
// wait ends early, with ctx's error, when ctx is done.
type Waiter interface {
	WaitContainer(ctx context.Context, request WaitContainerRequest) (WaitContainerResponse, error)
}

// Lister lists the containers this library manages, oldest first: what a runner restarted
// mid-job follows or cleans up.
type Lister interface {
	ListContainers() ([]ContainerInfo, error)
}

// FrameLogger reads a container's log as frames tagged stdout or stderr.
type FrameLogger interface {
	GetLogFrames(request GetLogsRequest) (FrameReader, error)
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
