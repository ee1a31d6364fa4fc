package docker_test

// This file uses only the names of Gofer's scheduler package (the seed) and docker.New: it is
// how Gofer's own code reads, with only the import paths changed. `go test` compiles it and
// runs the example against the real engine, checking its output.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

func newEngine() (scheduler.Engine, error) {
	engine, err := docker.New(true, 15*time.Minute)
	if err != nil {
		return nil, err
	}
	return &engine, nil
}

func Example() {
	engine, err := newEngine()
	if err != nil {
		fmt.Println(err)
		return
	}
	id := fmt.Sprintf("gofer-test-go-example-%d", os.Getpid())
	command := []string{"sh", "-c", "echo hello from $NAME"}
	_, err = engine.StartContainer(scheduler.StartContainerRequest{
		ID:        id,
		ImageName: os.Getenv("GOFER_TEST_IMAGE"),
		EnvVars:   map[string]string{"NAME": "gofer"},
		Command:   &command,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 0})

	logs, err := engine.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		fmt.Println(err)
		return
	}
	scanner := bufio.NewScanner(logs)
	for scanner.Scan() {
		fmt.Println(scanner.Text())
	}

	for {
		state, err := engine.GetState(scheduler.GetStateRequest{ID: id})
		if err != nil {
			fmt.Println(err)
			return
		}
		if state.State == scheduler.ContainerStateExited {
			fmt.Println(state.State, state.ExitCode)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	_, err = engine.GetState(scheduler.GetStateRequest{ID: "gofer-test-go-no-such-container"})
	fmt.Println(errors.Is(err, scheduler.ErrNoSuchContainer))

	// Output:
	// hello from gofer
	// EXITED 0
	// true
}
