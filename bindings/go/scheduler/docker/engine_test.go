package docker_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

func TestStartThenLogsThenStateReportsExitedZero(t *testing.T) {
	id := name(t)
	state, logs := run(t, shell(id, "echo hello; echo world"))
	if brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateExited, ExitCode: 0}) {
		t.Fatalf("state %+v", state)
	}
	if logs != "hello\nworld\n" {
		t.Fatalf("logs %q", logs)
	}
}

func TestStderrIsInTheLogs(t *testing.T) {
	_, logs := run(t, shell(name(t), "echo out; sleep 0.2; echo err >&2"))
	if logs != "out\nerr\n" {
		t.Fatalf("logs %q", logs)
	}
}

func TestExitCodeThreeIsReportedAsThree(t *testing.T) {
	state, _ := run(t, shell(name(t), "exit 3"))
	if brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateExited, ExitCode: 3}) {
		t.Fatalf("state %+v", state)
	}
}

func TestStartingTheSameIDTwiceReplacesTheFirstContainer(t *testing.T) {
	id := name(t)
	start(t, shell(id, "echo first; sleep 300"))
	state, logs := run(t, shell(id, "echo second"))
	if state.State != scheduler.ContainerStateExited || logs != "second\n" {
		t.Fatalf("state %+v, logs %q", state, logs)
	}
}

func TestEnvVarsReachTheContainer(t *testing.T) {
	req := shell(name(t), `echo "$GREETING/$EMPTY/$WITH_EQ"`)
	req.EnvVars = map[string]string{"GREETING": "hi there", "EMPTY": "", "WITH_EQ": "a=b"}
	if _, logs := run(t, req); logs != "hi there//a=b\n" {
		t.Fatalf("logs %q", logs)
	}
}

// The entrypoint image runs `/bin/echo image-entrypoint` with CMD `image-cmd`.
func TestEntrypointAndCommandAbsentVersusEmpty(t *testing.T) {
	list := func(s ...string) *[]string { return &s }
	for _, c := range []struct {
		what                string
		entrypoint, command *[]string
		want                string
	}{
		{"both absent: the image's", nil, nil, "image-entrypoint image-cmd\n"},
		{"command only", nil, list("mine"), "image-entrypoint mine\n"},
		{"empty entrypoint clears the image's", list(), list("/bin/echo", "no-entrypoint"), "no-entrypoint\n"},
		{"own entrypoint drops the image's CMD", list("/bin/echo", "own"), nil, "own\n"},
		{"empty command: the engine keeps the image's CMD", nil, list(), "image-entrypoint image-cmd\n"},
	} {
		req := scheduler.StartContainerRequest{ID: name(t), ImageName: bed["GOFER_TEST_ENTRYPOINT_IMAGE"],
			Entrypoint: c.entrypoint, Command: c.command}
		if _, logs := run(t, req); logs != c.want {
			t.Errorf("%s: logs %q, want %q", c.what, logs, c.want)
		}
	}
}

// The way Gofer runs a task: start, a goroutine copying the logs line by line into a file,
// GetState polled every 500 ms until the container has exited.
func TestGoferStyleTaskRun(t *testing.T) {
	id := name(t)
	start(t, shell(id, "for i in $(seq 1 30); do echo line $i; sleep 0.05; done; exit 4"))

	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.(io.Closer).Close()
	path := filepath.Join(t.TempDir(), "task.log")
	copied := make(chan error, 1)
	go func() {
		file, err := os.Create(path)
		if err != nil {
			copied <- err
			return
		}
		defer file.Close()
		scanner := bufio.NewScanner(logs)
		for scanner.Scan() {
			fmt.Fprintln(file, scanner.Text())
		}
		copied <- scanner.Err()
	}()

	var state scheduler.GetStateResponse
	deadline := time.Now().Add(step)
	for {
		if state, err = orch.GetState(scheduler.GetStateRequest{ID: id}); err != nil {
			t.Fatal(err)
		}
		if state.State == scheduler.ContainerStateExited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s after %v", state.State, step)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if state.ExitCode != 4 {
		t.Fatalf("exit code %d", state.ExitCode)
	}
	select {
	case err := <-copied:
		if err != nil {
			t.Fatalf("log copy: %v", err)
		}
	case <-time.After(step):
		t.Fatal("the log stream did not end after the container exited")
	}
	var want strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	got, _ := os.ReadFile(path)
	if string(got) != want.String() {
		t.Fatalf("log file %q", got)
	}
}

func TestStopWithTimeoutZeroKillsAndReportsCancelled(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	stop := scheduler.StopContainerRequest{ID: id, Timeout: 0}
	if err := orch.StopContainer(stop); err != nil {
		t.Fatal(err)
	}
	state := waitExit(t, id)
	if brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateCancelled, ExitCode: 137}) {
		t.Fatalf("state %+v", state)
	}
	if err := orch.StopContainer(stop); err != nil {
		t.Fatalf("stopping a stopped container: %v", err)
	}
}

func TestStopDuringARunLetsATermTrapChooseTheExitCode(t *testing.T) {
	id := name(t)
	start(t, shell(id, "trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done"))
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.(io.Closer).Close()
	scanner := bufio.NewScanner(logs)
	if !scanner.Scan() || scanner.Text() != "ready" {
		t.Fatalf("first line %q, %v", scanner.Text(), scanner.Err())
	}
	began := time.Now()
	if err := orch.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if time.Since(began) > 15*time.Second {
		t.Fatal("the container honoured TERM: no need to wait for the KILL")
	}
	if !scanner.Scan() || scanner.Text() != "got TERM" {
		t.Fatalf("next line %q, %v", scanner.Text(), scanner.Err())
	}
	if scanner.Scan() || scanner.Err() != nil {
		t.Fatalf("after the exit: %q, %v", scanner.Text(), scanner.Err())
	}
	if state := waitExit(t, id); brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateCancelled, ExitCode: 42}) {
		t.Fatalf("state %+v", state)
	}
}

func TestStateOfARunningContainerIsRunningWithExitCodeZero(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	state, err := orch.GetState(scheduler.GetStateRequest{ID: id})
	if err != nil || brief(state) != (scheduler.GetStateResponse{State: scheduler.ContainerStateRunning}) {
		t.Fatalf("state %+v, %v", state, err)
	}
	dockerCLI(t, true, "pause", id)
	defer dockerCLI(t, false, "unpause", id)
	if state, err = orch.GetState(scheduler.GetStateRequest{ID: id}); err != nil || state.State != scheduler.ContainerStatePaused {
		t.Fatalf("state %+v, %v", state, err)
	}
}

// An extension: a server in the container, reached over TCP at the URL StartContainer returns.
func TestNetworkingReturnsAURLThatReachesTheContainer(t *testing.T) {
	req := shell(name(t), "while true; do echo pong | nc -l -p 8080; done")
	req.Networking = &scheduler.Networking{Port: 8080}
	resp := start(t, req)
	if !strings.HasPrefix(resp.URL, "127.0.0.1:") {
		t.Fatalf("URL %q", resp.URL)
	}
	deadline := time.Now().Add(step)
	for {
		answer, err := ping(resp.URL)
		if answer == "pong\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pong from %s: %q, %v", resp.URL, answer, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp := start(t, shell(name(t), "true")); resp.URL != "" {
		t.Fatalf("no networking, yet URL %q", resp.URL)
	}
}

func ping(url string) (string, error) {
	conn, err := dialPublished(url)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write([]byte("ping\n"))
	answer, err := io.ReadAll(conn)
	return string(answer), err
}

func TestUnknownIDIsNoSuchContainerForEveryOperation(t *testing.T) {
	id := fmt.Sprintf("%sdoes-not-exist-%d", prefix, os.Getpid())
	err := orch.StopContainer(scheduler.StopContainerRequest{ID: id})
	mustKind(t, err, scheduler.ErrNoSuchContainer, "StopContainer")
	state, err := orch.GetState(scheduler.GetStateRequest{ID: id})
	mustKind(t, err, scheduler.ErrNoSuchContainer, "GetState")
	if state.State != scheduler.ContainerStateUnknown {
		t.Errorf("state %q", state.State)
	}
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	mustKind(t, err, scheduler.ErrNoSuchContainer, "GetLogs fails at the call")
	if logs != nil {
		t.Error("GetLogs returned a reader with its error")
	}
	_, err = orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"sh"}})
	mustKind(t, err, scheduler.ErrNoSuchContainer, "AttachContainer")
	// Wrapped, the engine's words are kept after the seed's text.
	if msg := err.Error(); !strings.HasPrefix(msg, "scheduler: entity not found: ") || !strings.Contains(msg, id) {
		t.Errorf("message %q", msg)
	}
}

func TestAnIDPrefixSharedBySeveralContainersIsAmbiguous(t *testing.T) {
	// 17 containers guarantee that two IDs share a first hex digit. Created, never started.
	for i := 0; i < 17; i++ {
		dockerCLI(t, true, "create", "--name", name(t), bed["GOFER_TEST_IMAGE"], "true")
	}
	counts := map[string]int{}
	for _, id := range strings.Fields(dockerCLI(t, true, "ps", "-aq", "--no-trunc")) {
		counts[id[:1]]++
	}
	var shared string
	for digit, n := range counts {
		if n >= 2 {
			shared = digit
		}
	}
	_, err := orch.GetState(scheduler.GetStateRequest{ID: shared})
	mustKind(t, err, scheduler.ErrAmbiguousContainerName, "GetState")
	err = orch.StopContainer(scheduler.StopContainerRequest{ID: shared})
	mustKind(t, err, scheduler.ErrAmbiguousContainerName, "StopContainer")
	_, err = orch.GetLogs(scheduler.GetLogsRequest{ID: shared})
	mustKind(t, err, scheduler.ErrAmbiguousContainerName, "GetLogs")
}

func TestUnknownTagInTheRegistryIsNoSuchImage(t *testing.T) {
	req := shell(name(t), "true")
	req.ImageName = bed["GOFER_TEST_REGISTRY"] + "/gofer/private-busybox:no-such-tag"
	req.RegistryAuth = &scheduler.RegistryAuth{User: bed["GOFER_TEST_REGISTRY_USER"], Pass: bed["GOFER_TEST_REGISTRY_PASS"]}
	_, err := orch.StartContainer(req)
	mustKind(t, err, scheduler.ErrNoSuchImage, "unknown tag")
}

func TestPrivateImageNeedsCredentials(t *testing.T) {
	req := shell(name(t), "echo private")
	req.ImageName = bed["GOFER_TEST_PRIVATE_IMAGE"]
	req.AlwaysPull = true // a copy pulled earlier must not hide the registry's refusal
	_, err := orch.StartContainer(req)
	mustKind(t, err, scheduler.ErrNoSuchImage, "no credentials")
	req.RegistryAuth = &scheduler.RegistryAuth{User: bed["GOFER_TEST_REGISTRY_USER"], Pass: "wrong"}
	_, err = orch.StartContainer(req)
	mustKind(t, err, scheduler.ErrNoSuchImage, "wrong password")
	req.RegistryAuth.Pass = bed["GOFER_TEST_REGISTRY_PASS"]
	if state, logs := run(t, req); state.State != scheduler.ContainerStateExited || logs != "private\n" {
		t.Fatalf("with credentials: %+v, %q", state, logs)
	}
}

func TestInvalidArgumentsAreRefusedNamingTheField(t *testing.T) {
	image := bed["GOFER_TEST_IMAGE"]
	for _, c := range []struct {
		req   scheduler.StartContainerRequest
		field string
	}{
		{scheduler.StartContainerRequest{ID: "a/b", ImageName: image}, "id"},
		{scheduler.StartContainerRequest{ID: "", ImageName: image}, "id"},
		{scheduler.StartContainerRequest{ID: "ok", ImageName: ""}, "image_name"},
		{scheduler.StartContainerRequest{ID: "ok\x00", ImageName: image}, "ID"},
		{scheduler.StartContainerRequest{ID: "ok", ImageName: image, EnvVars: map[string]string{"A": "x\x00y"}}, "EnvVars"},
		{scheduler.StartContainerRequest{ID: "ok", ImageName: image, EnvVars: map[string]string{"A=B": "x"}}, "env"},
		{scheduler.StartContainerRequest{ID: "ok", ImageName: image, Networking: &scheduler.Networking{Port: 0}}, "Networking.Port"},
		{scheduler.StartContainerRequest{ID: "ok", ImageName: image, Networking: &scheduler.Networking{Port: 70000}}, "port"},
	} {
		_, err := orch.StartContainer(c.req)
		mustKind(t, err, scheduler.ErrInvalidArgument, fmt.Sprintf("%+v", c.req))
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%q does not name %s", err, c.field)
		}
	}
	_, err := orch.GetState(scheduler.GetStateRequest{ID: "../etc"})
	mustKind(t, err, scheduler.ErrInvalidArgument, "GetState")
	_, err = orch.AttachContainer(scheduler.AttachContainerRequest{ID: "ok"})
	mustKind(t, err, scheduler.ErrInvalidArgument, "AttachContainer without a command")
}

func TestAClosedOrchestratorRefusesCallsAndCloseIsIdempotent(t *testing.T) {
	o, err := docker.New(false, 0)
	if err != nil {
		t.Fatal(err)
	}
	engine := scheduler.Engine(&o) // what Gofer holds
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = engine.GetState(scheduler.GetStateRequest{ID: "x"})
	mustKind(t, err, scheduler.ErrInvalidState, "after Close")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	var zero docker.Orchestrator
	_, err = zero.GetState(scheduler.GetStateRequest{ID: "x"})
	mustKind(t, err, scheduler.ErrInvalidState, "zero Orchestrator")
}

// Calls in flight when Close is called finish normally; Close waits for them.
func TestCloseWaitsForCallsInFlight(t *testing.T) {
	o, err := docker.New(false, 0)
	if err != nil {
		t.Fatal(err)
	}
	id := name(t)
	start(t, shell(id, "sleep 300"))
	stopped := make(chan error, 1)
	go func() { stopped <- o.StopContainer(scheduler.StopContainerRequest{ID: id, Timeout: 2 * time.Second}) }()
	time.Sleep(300 * time.Millisecond) // let the stop reach the engine
	began := time.Now()
	o.Close()
	if waited := time.Since(began); waited < time.Second {
		t.Errorf("Close returned after %v, before the 2 s stop in flight", waited)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("the stop in flight failed: %v", err)
	}
}

func TestEngineThatDoesNotAnswerIsAConnectionError(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err := docker.New(false, 0)
	mustKind(t, err, scheduler.ErrConnection, "New")
	if !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Errorf("the message should say what to do: %v", err)
	}
}

// Finalizers free what was never closed: log streams dropped without Close give back their
// connections (opened at the first Read), and dropped engines are freed without harm.
func TestDroppedObjectsAreFreedByFinalizers(t *testing.T) {
	id := name(t)
	start(t, shell(id, "echo x; sleep 300"))
	drop := func() {
		o, err := docker.New(false, 0)
		if err != nil {
			t.Fatal(err)
		}
		logs, err := o.GetLogs(scheduler.GetLogsRequest{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := logs.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	drop()
	gc()
	before := openFDs(t)
	for i := 0; i < 20; i++ {
		drop()
	}
	if during := openFDs(t); during < before+20 {
		t.Logf("%d descriptors before, %d with 20 streams open: the check below proves little", before, during)
	}
	gc()
	time.Sleep(200 * time.Millisecond) // connections close on the library's own threads
	if after := openFDs(t); after > before+3 {
		t.Fatalf("%d descriptors open before, %d after 20 dropped engines and streams", before, after)
	}
}

// 50 goroutines each run a container and check its state and logs, all at once (starts are
// capped at 8 in flight, see startSlots).
func TestFiftyGoroutinesRunContainersAtOnce(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		id := name(t)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- runOne(id, i)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// runOne is run() for a goroutine other than the test's (which may not call t.Fatal).
func runOne(id string, i int) error {
	startSlots <- struct{}{}
	_, err := orch.StartContainer(shell(id, fmt.Sprintf("seq 1 %d; exit %d", 100+i, i%7)))
	<-startSlots
	if err != nil {
		return fmt.Errorf("%d: start: %w", i, err)
	}
	deadline := time.Now().Add(2 * step)
	var state scheduler.GetStateResponse
	for state.State != scheduler.ContainerStateExited {
		if state, err = orch.GetState(scheduler.GetStateRequest{ID: id}); err != nil {
			return fmt.Errorf("%d: state: %w", i, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d: still %s", i, state.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state.ExitCode != int64(i%7) {
		return fmt.Errorf("%d: exit code %d", i, state.ExitCode)
	}
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		return fmt.Errorf("%d: logs: %w", i, err)
	}
	defer logs.(io.Closer).Close()
	got, err := lines(logs)
	if err != nil {
		return fmt.Errorf("%d: reading logs: %w", i, err)
	}
	if len(got) != 100+i || got[0] != "1" || got[len(got)-1] != fmt.Sprint(100+i) {
		return fmt.Errorf("%d: %d lines: %v ... ", i, len(got), got[:min(3, len(got))])
	}
	return nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
