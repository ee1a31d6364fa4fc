package scheduler_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

func TestSentinelTextsAreTheSeeds(t *testing.T) {
	for err, want := range map[error]string{
		scheduler.ErrNoSuchContainer:        "scheduler: entity not found",
		scheduler.ErrNoSuchImage:            "scheduler: docker image not found",
		scheduler.ErrAmbiguousContainerName: "scheduler: more than one container was found for the given container name",
	} {
		if err.Error() != want {
			t.Errorf("got %q, want %q", err.Error(), want)
		}
	}
}

func TestErrorMatchesItsKindAndKeepsTheEngineMessage(t *testing.T) {
	msg := "scheduler: entity not found: No such container: x"
	var err error = &scheduler.Error{Kind: scheduler.ErrNoSuchContainer, Message: msg, HTTPStatus: 404}
	err = fmt.Errorf("taskrun 3: %w", err)
	if !errors.Is(err, scheduler.ErrNoSuchContainer) {
		t.Fatal("errors.Is does not see the sentinel through the wrap")
	}
	if errors.Is(err, scheduler.ErrNoSuchImage) {
		t.Fatal("an error matches a kind it is not")
	}
	var e *scheduler.Error
	if !errors.As(err, &e) || e.HTTPStatus != 404 || err.Error() != "taskrun 3: "+msg {
		t.Fatalf("lost detail: %v", err)
	}
	if got := (&scheduler.Error{Kind: scheduler.ErrTimeout}).Error(); got != scheduler.ErrTimeout.Error() {
		t.Fatalf("an empty message should read as the kind, got %q", got)
	}
}

func TestContainerStateValuesAreTheSeeds(t *testing.T) {
	got := []scheduler.ContainerState{
		scheduler.ContainerStateUnknown, scheduler.ContainerStateRunning, scheduler.ContainerStatePaused,
		scheduler.ContainerStateRestarting, scheduler.ContainerStateExited, scheduler.ContainerStateCancelled,
	}
	want := []string{"UNKNOWN", "RUNNING", "PAUSED", "RESTARTING", "EXITED", "CANCELLED"}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("state %d is %q, want %q", i, got[i], want[i])
		}
	}
	if scheduler.EngineDocker != "docker" {
		t.Errorf("EngineDocker is %q", scheduler.EngineDocker)
	}
}
