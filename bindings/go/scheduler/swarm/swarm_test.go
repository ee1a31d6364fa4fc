package swarm_test

// The swarm engine on the test swarm (scripts/swarm.sh up): a task's exit code, logs and frames,
// the list, a stop with its grace period, an attach through the node's engine, and the error
// kinds. Skipped when the swarm is not up, unless GOFER_SWARM_REQUIRED=1 (scripts/test-swarm.sh).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/swarm"
)

const step = 60 * time.Second

var (
	env  map[string]string
	orch swarm.Orchestrator
	seq  int64
)

func TestMain(m *testing.M) {
	var err error
	env, err = loadEnv("target/engines/swarm.env", "target/testbed/env")
	if err != nil {
		if os.Getenv("GOFER_SWARM_REQUIRED") == "1" {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "swarm tests skipped:", err)
		os.Exit(0)
	}
	if orch, err = swarm.New(options(true)); err != nil {
		fmt.Fprintln(os.Stderr, "the test swarm's manager does not answer:", err)
		os.Exit(1)
	}
	code := m.Run()
	orch.Close()
	os.Exit(code)
}

// loadEnv reads KEY=VALUE files at the repository root.
func loadEnv(paths ...string) (map[string]string, error) {
	vars := map[string]string{}
	for _, p := range paths {
		path, _ := filepath.Abs(filepath.Join("../../../..", p))
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%v: run `scripts/testbed.sh up && scripts/swarm.sh up` first", err)
		}
		for _, line := range strings.Split(string(text), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				vars[k] = strings.Trim(v, `"`)
			}
		}
	}
	return vars, nil
}

func options(withNodes bool) swarm.Options {
	opts := swarm.Options{Manager: env["GOFER_SWARM_MANAGER"], Timeout: 20 * time.Second}
	if withNodes {
		opts.Nodes = map[string]string{}
		for _, pair := range strings.Split(env["GOFER_SWARM_NODES"], ",") {
			if node, host, ok := strings.Cut(pair, "="); ok {
				opts.Nodes[node] = host
			}
		}
	}
	return opts
}

// name is a service name unique to this run, its service removed when the test ends.
func name(t *testing.T) string {
	n := fmt.Sprintf("gofer-test-go-swarm-%d-%d", os.Getpid(), atomic.AddInt64(&seq, 1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), step)
		defer cancel()
		_ = exec.CommandContext(ctx, "docker", "-H", env["GOFER_SWARM_MANAGER"], "service", "rm", n).Run()
	})
	return n
}

func shell(id, script string) scheduler.StartContainerRequest {
	return scheduler.StartContainerRequest{ID: id, ImageName: env["GOFER_TEST_IMAGE"], Command: &[]string{"sh", "-c", script}}
}

func mustKind(t *testing.T, err, kind error, what string) {
	t.Helper()
	var e *scheduler.Error
	if !errors.Is(err, kind) || !errors.As(err, &e) {
		t.Fatalf("%s: got %v (%T), want %v", what, err, err, kind)
	}
}

func TestATaskRunsOnceWithItsExitCodeLogsAndFrames(t *testing.T) {
	t.Parallel()
	id := name(t)
	var engine scheduler.Engine = orch
	resp, err := engine.StartContainer(shell(id, "echo out; echo err >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContainerID == "" || !strings.HasPrefix(resp.ImageID, "sha256:") {
		t.Fatalf("IDs: %+v", resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), step)
	defer cancel()
	state, err := engine.(scheduler.Waiter).WaitContainer(ctx, scheduler.WaitContainerRequest{ID: id})
	if err != nil || state.State != scheduler.ContainerStateExited || state.ExitCode != 3 {
		t.Fatalf("WaitContainer: %+v, %v", state, err)
	}
	logs, err := engine.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for s := bufio.NewScanner(logs); s.Scan(); {
		lines = append(lines, s.Text())
	}
	if got := strings.Join(lines, ","); got != "out,err" && got != "err,out" {
		t.Fatalf("logs: %q", got)
	}
	frames, err := engine.(scheduler.FrameLogger).GetLogFrames(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer frames.Close()
	seen := map[string]scheduler.LogStream{}
	for {
		frame, err := frames.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[string(frame.Data)] = frame.Stream
	}
	if seen["out\n"] != scheduler.LogStdout || seen["err\n"] != scheduler.LogStderr {
		t.Fatalf("frames: %v", seen)
	}
	list, err := engine.(scheduler.Lister).ListContainers()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range list {
		found = found || (c.Name == id && c.ID == resp.ContainerID && c.State.State == scheduler.ContainerStateExited)
	}
	if !found {
		t.Fatalf("%s not listed as exited: %+v", id, list)
	}
}

func TestStopHonoursTheGracePeriodAndReportsCancelled(t *testing.T) {
	t.Parallel()
	id := name(t)
	if _, err := orch.StartContainer(shell(id, "trap '' TERM; while :; do sleep 0.1; done")); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	if err := orch.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(asked); took < 500*time.Millisecond || took > 5*time.Second {
		t.Fatalf("stop took %v", took)
	}
	state, err := orch.GetState(scheduler.GetStateRequest{ID: id})
	if err != nil || state.State != scheduler.ContainerStateCancelled || state.ExitCode != 137 {
		t.Fatalf("after the stop: %+v, %v", state, err)
	}
}

func TestAttachRunsThroughTheNodesEngine(t *testing.T) {
	t.Parallel()
	id := name(t)
	if _, err := orch.StartContainer(shell(id, "echo inside > /tmp/mark; sleep 60")); err != nil {
		t.Fatal(err)
	}
	session, err := orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"cat", "/tmp/mark"}})
	if err != nil {
		t.Fatal(err)
	}
	defer session.Conn.Close()
	_ = session.Conn.SetReadDeadline(time.Now().Add(step))
	out, _ := io.ReadAll(session.Reader)
	if !strings.Contains(string(out), "inside") {
		t.Fatalf("attach output %q", out)
	}
	without, err := swarm.New(options(false))
	if err != nil {
		t.Fatal(err)
	}
	defer without.Close()
	_, err = without.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"true"}})
	mustKind(t, err, scheduler.ErrInvalidArgument, "attach without the node's engine")
}

func TestErrorsHaveTheKindsOfASingleEngine(t *testing.T) {
	t.Parallel()
	_, err := orch.GetState(scheduler.GetStateRequest{ID: "gofer-test-go-no-such-service"})
	mustKind(t, err, scheduler.ErrNoSuchContainer, "unknown service")
	_, err = orch.StartContainer(scheduler.StartContainerRequest{ID: name(t), ImageName: "gofer-test/none:latest"})
	mustKind(t, err, scheduler.ErrNoSuchImage, "an image no node has")
	if !strings.Contains(err.Error(), "No such image") {
		t.Fatalf("the swarm's reason is kept: %v", err)
	}
	worker := options(false)
	for _, host := range options(true).Nodes {
		if host != worker.Manager {
			worker.Manager = host
			break
		}
	}
	_, err = swarm.New(worker)
	mustKind(t, err, scheduler.ErrEngine, "a worker is no manager")
}
