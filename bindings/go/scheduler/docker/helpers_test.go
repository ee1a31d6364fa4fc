package docker_test

// Shared pieces of the tests: the test bed's facts (written by scripts/testbed.sh up), unique
// container names removed when a test ends, also when it fails, and a bound on every wait so
// that a wedged daemon fails a test instead of hanging it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

// prefix marks every container these tests create, so that a leak is easy to spot and
// scripts/testbed.sh down sweeps it.
const prefix = "gofer-test-go-"

// step bounds any single wait of a test.
const step = 60 * time.Second

var (
	bed  map[string]string
	orch docker.Orchestrator // shared by the tests; the engine is safe for concurrent use
)

func TestMain(m *testing.M) {
	var err error
	if bed, err = loadBed(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The docker CLI must use the test bed's config (registry login), not $HOME's; and the
	// example reads GOFER_TEST_IMAGE like a program would.
	for k, v := range bed {
		os.Setenv(k, v)
	}
	if orch, err = docker.New(false, 0); err != nil {
		fmt.Fprintln(os.Stderr, "the test bed's engine does not answer:", err)
		os.Exit(1)
	}
	code := m.Run()
	// The example cannot clean up after itself without leaving the seed's names.
	dockerCLIErr("rm", "-fv", fmt.Sprintf("%sexample-%d", prefix, os.Getpid()))
	orch.Close()
	os.Exit(code)
}

// loadBed reads target/testbed/env at the repository root; variables already set win.
func loadBed() (map[string]string, error) {
	path, _ := filepath.Abs("../../../../target/testbed/env")
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%v: run `scripts/testbed.sh up` first", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(text), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	for k := range vars {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	for _, k := range []string{"GOFER_TEST_IMAGE", "GOFER_TEST_ENTRYPOINT_IMAGE", "GOFER_TEST_REGISTRY",
		"GOFER_TEST_REGISTRY_USER", "GOFER_TEST_REGISTRY_PASS", "GOFER_TEST_PRIVATE_IMAGE", "GOFER_TEST_MULTILAYER_IMAGE", "DOCKER_CONFIG"} {
		if vars[k] == "" {
			return nil, fmt.Errorf("%s: %s is missing", path, k)
		}
	}
	return vars, nil
}

var seq int64

// name returns a container name unique to this run, force-removed when the test ends.
func name(t testing.TB) string {
	n := fmt.Sprintf("%s%s-%d-%d", prefix, strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")),
		os.Getpid(), atomic.AddInt64(&seq, 1))
	t.Cleanup(func() {
		if out, err := dockerCLIErr("rm", "-fv", n); err != nil && !strings.Contains(out, "No such container") {
			t.Logf("cleanup: docker rm %s: %v: %s", n, err, out)
		}
	})
	return n
}

// dockerCLI runs the docker CLI, bounded in time. With must, a failure fails the test.
func dockerCLI(t testing.TB, must bool, args ...string) string {
	out, err := dockerCLIErr(args...)
	if err != nil && must {
		t.Fatalf("docker %v: %v: %s", args, err, out)
	}
	return out
}

func dockerCLIErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*step)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	// The CLI is a Go program too: the knobs this test run is given (GOGC=1, GODEBUG) are not
	// for it, and a newer Go runtime refuses some GODEBUG values outright.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// startSlots caps the StartContainer calls in flight across all tests: Docker 20.10 can
// deadlock when many containers start at once.
var startSlots = make(chan struct{}, 8)

func start(t testing.TB, req scheduler.StartContainerRequest) scheduler.StartContainerResponse {
	t.Helper()
	startSlots <- struct{}{}
	defer func() { <-startSlots }()
	var resp scheduler.StartContainerResponse
	var err error
	bounded(t, "StartContainer", func() { resp, err = orch.StartContainer(req) })
	if err != nil {
		t.Fatalf("StartContainer(%s): %v", req.ID, err)
	}
	return resp
}

// shell is a request to run `sh -c script` in the test image.
func shell(id, script string) scheduler.StartContainerRequest {
	return scheduler.StartContainerRequest{ID: id, ImageName: bed["GOFER_TEST_IMAGE"], Command: &[]string{"sh", "-c", script}}
}

// bounded runs f, failing the test if it has not returned within step. (The library bounds
// its own requests; this catches what it cannot.)
func bounded(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(step):
		t.Fatalf("%s: no result within %v (is the daemon wedged?)", what, step)
	}
}

// brief keeps the seed's fields of a state, State and ExitCode, for comparisons (the times
// differ from run to run).
func brief(s scheduler.GetStateResponse) scheduler.GetStateResponse {
	return scheduler.GetStateResponse{State: s.State, ExitCode: s.ExitCode}
}

// waitExit polls GetState until the container has exited (EXITED or CANCELLED).
func waitExit(t testing.TB, id string) scheduler.GetStateResponse {
	t.Helper()
	deadline := time.Now().Add(step)
	for {
		state, err := orch.GetState(scheduler.GetStateRequest{ID: id})
		if err != nil {
			t.Fatalf("GetState(%s): %v", id, err)
		}
		if state.State == scheduler.ContainerStateExited || state.State == scheduler.ContainerStateCancelled {
			return state
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s after %v", id, state.State, step)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readLogs reads a container's logs to their end, bounded; a stream that does not end in
// time is closed (which unblocks the read) and fails the test.
func readLogs(t testing.TB, id string) string {
	t.Helper()
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatalf("GetLogs(%s): %v", id, err)
	}
	closer := logs.(io.Closer)
	defer closer.Close()
	timer := time.AfterFunc(step, func() { closer.Close() })
	defer timer.Stop()
	out, err := io.ReadAll(logs)
	if err != nil {
		t.Fatalf("reading the logs of %s: %v", id, err)
	}
	return string(out)
}

// run starts req, waits for its exit and returns its state and logs.
func run(t testing.TB, req scheduler.StartContainerRequest) (scheduler.GetStateResponse, string) {
	t.Helper()
	start(t, req)
	state := waitExit(t, req.ID)
	return state, readLogs(t, req.ID)
}

// lines scans r into lines with bufio.Scanner, the way Gofer reads task logs.
func lines(r io.Reader) ([]string, error) {
	var out []string
	s := bufio.NewScanner(r)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out, s.Err()
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// mustKind fails the test unless err is a *scheduler.Error of kind.
func mustKind(t testing.TB, err, kind error, what string) {
	t.Helper()
	var e *scheduler.Error
	if !errors.Is(err, kind) || !errors.As(err, &e) {
		t.Fatalf("%s: got %v (%T), want %v", what, err, err, kind)
	}
}

// gc runs the garbage collector and finalizers twice (a finalizer may free what the next
// cycle collects).
func gc() {
	for i := 0; i < 2; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// dialPublished connects to a port the engine published on its loopback (127.0.0.1:N). An
// engine of the version matrix runs in a network namespace of its own (GOFER_TEST_ENGINE_NETNS,
// set by scripts/test-engine.sh), where that loopback is: the socket is made there, by a
// goroutine locked to a thread that joins the namespace. The thread is never unlocked, so Go
// ends it with the goroutine instead of reusing it elsewhere.
func dialPublished(url string) (net.Conn, error) {
	netns := os.Getenv("GOFER_TEST_ENGINE_NETNS")
	if netns == "" {
		return net.DialTimeout("tcp", url, 2*time.Second)
	}
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := os.Open(netns)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer ns.Close()
		// setns(2) is 308 on linux/amd64, the test bed's only platform (package syscall, frozen,
		// has no name for it).
		const sysSetns = 308
		if _, _, errno := syscall.RawSyscall(sysSetns, ns.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
			done <- result{nil, fmt.Errorf("setns %s: %w", netns, errno)}
			return
		}
		conn, err := net.DialTimeout("tcp", url, 2*time.Second)
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

// engineSocket is the Unix socket of the engine under test: DOCKER_HOST's when it is a unix://
// address (as the library finds it), else Docker's default socket.
func engineSocket() string {
	if host := os.Getenv("DOCKER_HOST"); strings.HasPrefix(host, "unix://") {
		return strings.TrimPrefix(host, "unix://")
	}
	return "/var/run/docker.sock"
}
