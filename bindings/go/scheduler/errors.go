package scheduler

import "errors"

// The seed's sentinel errors. Their texts are part of the contract with Gofer.
var (
	// ErrNoSuchContainer is returned when a container requested could not be located on the
	// scheduler.
	ErrNoSuchContainer = errors.New("scheduler: entity not found")

	// ErrNoSuchImage is returned when the requested container image could not be pulled.
	ErrNoSuchImage = errors.New("scheduler: docker image not found")

	// ErrAmbiguousContainerName is returned when we the scheduler attempts to operate on a
	// single container but the given name results in multiple container matches.
	ErrAmbiguousContainerName = errors.New("scheduler: more than one container was found for the given container name")
)

// The other kinds of failure, so that callers can branch on every one of them with errors.Is.
var (
	// ErrInvalidArgument: the request was unusable (bad container name, empty image name, port
	// out of range, a string holding NUL...). Nothing was sent to the engine.
	ErrInvalidArgument = errors.New("scheduler: invalid argument")
	// ErrConnection: the engine could not be reached, or the connection broke (also in the
	// middle of a log stream).
	ErrConnection = errors.New("scheduler: cannot reach the docker engine")
	// ErrTimeout: the engine did not answer within the request timeout.
	ErrTimeout = errors.New("scheduler: the docker engine did not answer in time")
	// ErrContainerNotRunning: AttachContainer on a container that is not running.
	ErrContainerNotRunning = errors.New("scheduler: container is not running")
	// ErrEngine: any other error answered by the engine.
	ErrEngine = errors.New("scheduler: docker engine error")
	// ErrInvalidState: the object cannot be used any more (a closed engine or log stream).
	ErrInvalidState = errors.New("scheduler: handle cannot be used here")
	// ErrInternal: a bug in the scheduler library.
	ErrInternal = errors.New("scheduler: internal error")
)

// Error is the error every engine operation returns. It wraps its Kind, so
// errors.Is(err, ErrNoSuchContainer) works, while Error() keeps the engine's own words.
type Error struct {
	// Kind is one of this package's Err* values.
	Kind error
	// Message is the whole text; it starts with Kind's text, e.g.
	// "scheduler: entity not found: No such container: x".
	Message string
	// HTTPStatus is the engine's HTTP status when the engine answered with an error, else 0.
	HTTPStatus int
}

func (e *Error) Error() string {
	if e.Message == "" && e.Kind != nil {
		return e.Kind.Error()
	}
	return e.Message
}

// Unwrap returns the Kind, which is what makes errors.Is match the sentinels.
func (e *Error) Unwrap() error { return e.Kind }
