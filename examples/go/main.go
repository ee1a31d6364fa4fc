// Command run_container is the main job of gofer-scheduler, end to end, from Go: it starts a
// container, streams its logs to stdout as they come, waits for its exit, prints its final state
// and exit code, and exits with that code.
//
//	go run . [IMAGE [COMMAND...]]
//
// The container stays for `docker logs` / `docker inspect` (its name is printed).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

func main() {
	image := "gofer-test/busybox:latest"
	if len(os.Args) > 1 {
		image = os.Args[1]
	}
	command := []string{"sh", "-c", `echo "hello from $GOFER_TASK"; for i in 1 2 3; do echo "step $i"; sleep 0.3; done; echo 'a warning' >&2; exit 0`}
	if len(os.Args) > 2 {
		command = os.Args[2:]
	}
	id := fmt.Sprintf("gofer-example-go-%d", os.Getpid())
	code, err := run(id, image, command)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(int(code & 0xff))
}

func run(id, image string, command []string) (int64, error) {
	orchestrator, err := docker.New(false, 0)
	if err != nil {
		return 0, fmt.Errorf("connecting to Docker: %w", err)
	}
	defer orchestrator.Close()

	_, err = orchestrator.StartContainer(scheduler.StartContainerRequest{
		ID:        id,
		ImageName: image,
		EnvVars:   map[string]string{"GOFER_TASK": id},
		Command:   &command,
	})
	if err != nil {
		return 0, fmt.Errorf("StartContainer: %w", err)
	}
	fmt.Fprintf(os.Stderr, "started container %s (%s)\n", id, image)

	logs, err := orchestrator.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		return 0, fmt.Errorf("GetLogs: %w", err)
	}
	if _, err := io.Copy(os.Stdout, logs); err != nil {
		return 0, fmt.Errorf("reading the logs: %w", err)
	}

	state, err := orchestrator.WaitContainer(context.Background(), scheduler.WaitContainerRequest{ID: id})
	if err != nil {
		return 0, fmt.Errorf("WaitContainer: %w", err)
	}
	oom := ""
	if state.OOMKilled {
		oom = " (out of memory)"
	}
	fmt.Printf("state: %s, exit code: %d%s\n", state.State, state.ExitCode, oom)
	return state.ExitCode, nil
}
