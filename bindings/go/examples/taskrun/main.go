// Command taskrun runs one container the way Gofer runs a task: start it, stream its logs to
// stdout, poll its state until it exits, and exit with its exit code. Ctrl-C cancels it.
//
//	taskrun IMAGE [COMMAND...]
//
// It uses only the names of Gofer's scheduler package and docker.New. Like Gofer, it leaves
// the exited container for inspection (a long-running program passes prune to docker.New).
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: taskrun IMAGE [COMMAND...]")
		os.Exit(2)
	}
	code, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskrun:", err)
		os.Exit(1)
	}
	os.Exit(int(code))
}

func run(image string, command []string) (int64, error) {
	orchestrator, err := docker.New(false, 0)
	if err != nil {
		return 0, err
	}
	var engine scheduler.Engine = &orchestrator
	defer orchestrator.Close()

	id := fmt.Sprintf("taskrun-%d", os.Getpid())
	request := scheduler.StartContainerRequest{ID: id, ImageName: image}
	if len(command) > 0 {
		request.Command = &command
	}
	if _, err := engine.StartContainer(request); err != nil {
		return 0, err
	}

	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	go func() {
		<-interrupt
		engine.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 5 * time.Second})
	}()

	logs, err := engine.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		return 0, err
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(os.Stdout, logs)
		copied <- err
	}()

	for {
		state, err := engine.GetState(scheduler.GetStateRequest{ID: id})
		if err != nil {
			return 0, err
		}
		switch state.State {
		case scheduler.ContainerStateExited, scheduler.ContainerStateCancelled:
			if err := <-copied; err != nil {
				return 0, fmt.Errorf("logs: %w", err)
			}
			fmt.Fprintf(os.Stderr, "taskrun: %s %s, exit code %d\n", id, state.State, state.ExitCode)
			return state.ExitCode, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}
