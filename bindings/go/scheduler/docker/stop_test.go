package docker_test

// Gofer's own server on this binding: the behaviours it needs of StopContainer and of an empty
// RegistryAuth.

import (
	"bufio"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// waitReady waits for the first log line of id, "ready": the container's signal trap is set.
func waitReady(t *testing.T, id string) {
	t.Helper()
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.(io.Closer).Close()
	scanner := bufio.NewScanner(logs)
	if !scanner.Scan() || scanner.Text() != "ready" {
		t.Fatalf("first line %q, %v", scanner.Text(), scanner.Err())
	}
}

// Gofer's extensions pass a non-nil, empty RegistryAuth for images that need no login.
func TestAnEmptyRegistryAuthMeansNoCredentials(t *testing.T) {
	req := shell(name(t), "echo local")
	req.RegistryAuth = &scheduler.RegistryAuth{}
	state, logs := run(t, req)
	if state.State != scheduler.ContainerStateExited || logs != "local\n" {
		t.Fatalf("state %+v, logs %q", state, logs)
	}
	for _, half := range []scheduler.RegistryAuth{{Pass: "secret"}, {User: "someone"}} {
		req := shell(name(t), "true")
		req.RegistryAuth = &half
		_, err := orch.StartContainer(req)
		mustKind(t, err, scheduler.ErrInvalidArgument, "half a credential pair")
	}
}

// Gofer cancels with StopContainer in one goroutine while its task monitor polls GetState in
// another: the monitor must see CANCELLED, never the kill's exit code as a plain EXITED.
func TestAStatePollerSeesRunningThenCancelledWhileAStopIsInFlight(t *testing.T) {
	for round := 0; round < 20; round++ {
		id := name(t)
		start(t, shell(id, "trap 'exit 143' TERM; echo ready; while true; do sleep 0.05; done"))
		waitReady(t, id)
		seen := make(chan []scheduler.ContainerState, 1)
		// The stop is asked once the poller has its first sample: a stop asked before it makes
		// that sample CANCELLED already, as the contract says (the race that made this flaky).
		sampled := make(chan struct{})
		go func() {
			var states []scheduler.ContainerState
			defer func() { seen <- states }()
			var once sync.Once
			first := func() { once.Do(func() { close(sampled) }) }
			defer first()
			for deadline := time.Now().Add(step); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				state, err := orch.GetState(scheduler.GetStateRequest{ID: id})
				if err != nil {
					states = append(states, scheduler.ContainerState("error: "+err.Error()))
					return
				}
				if len(states) == 0 || states[len(states)-1] != state.State {
					states = append(states, state.State)
				}
				first()
				if state.State == scheduler.ContainerStateExited || state.State == scheduler.ContainerStateCancelled {
					return
				}
			}
		}()
		<-sampled
		if err := orch.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 10 * time.Second}); err != nil {
			t.Fatal(err)
		}
		states := <-seen
		if len(states) != 2 || states[0] != scheduler.ContainerStateRunning || states[1] != scheduler.ContainerStateCancelled {
			t.Fatalf("round %d: the poller saw %v", round, states)
		}
	}
}

// Gofer stops with a 500 ms grace period: that is 500 ms, not a second.
func TestASubSecondGracePeriodIsHonouredAsGiven(t *testing.T) {
	id := name(t)
	start(t, shell(id, "trap '' TERM; echo ready; while true; do sleep 0.05; done"))
	waitReady(t, id)
	began := time.Now()
	if err := orch.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// Tells 500 ms from no grace and from a grace rounded up to a second, with room for a
	// loaded 2-core machine's round trips around the engine's wait.
	if took := time.Since(began); took < 450*time.Millisecond || took >= 950*time.Millisecond {
		t.Fatalf("a process that ignores TERM is killed after 500 ms; the stop took %v", took)
	}
	if state := waitExit(t, id); brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateCancelled, ExitCode: 137}) {
		t.Fatalf("state %+v", state)
	}
}

// Within the grace period, the process's own exit code is the answer.
func TestAnExitWithinASubSecondGracePeriodKeepsItsOwnCode(t *testing.T) {
	id := name(t)
	start(t, shell(id, "trap 'exit 5' TERM; echo ready; while true; do sleep 0.05; done"))
	waitReady(t, id)
	if err := orch.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if state := waitExit(t, id); brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateCancelled, ExitCode: 5}) {
		t.Fatalf("state %+v", state)
	}
}
