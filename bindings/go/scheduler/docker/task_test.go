package docker_test

// The task contract a CI runner needs: wait, OOM, limits, mounts, settings, typed logs, list.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

const mib = 1024 * 1024

func waitFor(t *testing.T, id string) scheduler.WaitContainerResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), step)
	defer cancel()
	state, err := orch.WaitContainer(ctx, scheduler.WaitContainerRequest{ID: id})
	if err != nil {
		t.Fatalf("WaitContainer(%s): %v", id, err)
	}
	return state
}

func TestAJobPastItsMemoryLimitIsOOMKilledAndAKill9IsNot(t *testing.T) {
	hog, killed := name(t), name(t)
	req := shell(hog, "exec dd if=/dev/zero of=/dev/null bs=64M count=1")
	req.Resources.MemoryBytes = 32 * mib
	start(t, req)
	start(t, shell(killed, "sh -c 'kill -9 $$'; exit $?"))
	if state := waitFor(t, hog); state.State != scheduler.ContainerStateExited || state.ExitCode != 137 || !state.OOMKilled {
		t.Fatalf("hog: %+v", state)
	}
	if state, err := orch.GetState(scheduler.GetStateRequest{ID: hog}); err != nil || !state.OOMKilled {
		t.Fatalf("GetState: %+v, %v", state, err)
	}
	if state := waitFor(t, killed); state.ExitCode != 137 || state.OOMKilled {
		t.Fatalf("kill -9: %+v", state)
	}
	listed, err := orch.ListContainers()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range listed {
		if c.Name == hog && !c.State.OOMKilled {
			t.Fatalf("listed without the OOM flag: %+v", c)
		}
	}
}

func TestWaitsBeforeAndAfterTheExitGiveTheExitCodeAndTimes(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 1; exit 5"))
	before := waitFor(t, id)
	returned := time.Now()
	if before.State != scheduler.ContainerStateExited || before.ExitCode != 5 {
		t.Fatalf("%+v", before)
	}
	if before.StartedAt.IsZero() || !before.StartedAt.Before(before.FinishedAt) {
		t.Fatalf("times %+v", before)
	}
	if late := returned.Sub(before.FinishedAt); late > 500*time.Millisecond {
		t.Fatalf("the wait returned %v after the exit", late)
	}
	if after := waitFor(t, id); after != before {
		t.Fatalf("after the exit: %+v, before: %+v", after, before)
	}
}

func TestAWaitEndsWithItsContextAndAStopGivesCancelled(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := orch.WaitContainer(ctx, scheduler.WaitContainerRequest{ID: id})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 5*time.Second {
		t.Fatalf("a cancelled wait: %v after %v", err, time.Since(began))
	}
	waited := make(chan scheduler.WaitContainerResponse, 1)
	go func() { waited <- waitFor(t, id) }()
	time.Sleep(300 * time.Millisecond)
	if err := orch.StopContainer(scheduler.StopContainerRequest{ID: id}); err != nil {
		t.Fatal(err)
	}
	if state := <-waited; state.State != scheduler.ContainerStateCancelled || state.ExitCode != 137 {
		t.Fatalf("%+v", state)
	}
	_, err = orch.WaitContainer(context.Background(), scheduler.WaitContainerRequest{ID: prefix + "no-such-container"})
	mustKind(t, err, scheduler.ErrNoSuchContainer, "unknown ID")
}

func TestLimitsMountsAndSettingsReachTheContainer(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "input"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	id := name(t)
	req := shell(id, "cat /rw/input; echo written > /rw/output; (echo x > /ro/x) 2>/dev/null || echo read-only; "+
		"pwd; id -u; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | head -1; "+
		"df -k /dev/shm | tail -1 | awk '{print $2}'; df -k /t | tail -1 | awk '{print $2}'")
	req.Resources = scheduler.Resources{MemoryBytes: 64 * mib, CPUs: 0.5, PidsLimit: 32, ShmSizeBytes: 8 * mib}
	req.Mounts = []scheduler.Mount{
		{Type: scheduler.MountBind, Source: dir, Target: "/rw"},
		{Type: scheduler.MountBind, Source: dir, Target: "/ro", ReadOnly: true},
		{Type: scheduler.MountTmpfs, Target: "/t", TmpfsSizeBytes: 4 * mib},
	}
	req.WorkingDir, req.User = "/tmp", "1000"
	req.Labels = map[string]string{"ci.gofer.job": "go"}
	resp := start(t, req)
	if len(resp.ContainerID) != 64 || !strings.HasPrefix(resp.ImageID, "sha256:") {
		t.Fatalf("%+v", resp)
	}
	waitFor(t, id)
	if logs := readLogs(t, id); logs != "from the host\nread-only\n/tmp\n1000\n32\n8192\n4096\n" {
		t.Fatalf("logs %q", logs)
	}
	if out, err := os.ReadFile(filepath.Join(dir, "output")); err != nil || string(out) != "written\n" {
		t.Fatalf("bind mount: %q, %v", out, err)
	}
	listed, err := orch.ListContainers()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range listed {
		if c.Name == id {
			found = c.ID == resp.ContainerID && c.Labels["ci.gofer.job"] == "go" && !c.CreatedAt.IsZero()
		}
	}
	if !found {
		t.Fatalf("not listed as started: %+v", listed)
	}
}

func TestBadLimitsAndMountsAreRefusedNamingTheField(t *testing.T) {
	id := name(t)
	for field, set := range map[string]func(*scheduler.StartContainerRequest){
		"resources.memory_bytes": func(r *scheduler.StartContainerRequest) { r.Resources.MemoryBytes = mib },
		"resources.cpus":         func(r *scheduler.StartContainerRequest) { r.Resources.CPUs = -1 },
		"mounts[0].target":       func(r *scheduler.StartContainerRequest) { r.Mounts = []scheduler.Mount{{Type: scheduler.MountTmpfs, Target: "rel"}} },
		"Mounts[0].Type":         func(r *scheduler.StartContainerRequest) { r.Mounts = []scheduler.Mount{{Type: "nfs", Target: "/x"}} },
		"labels":                 func(r *scheduler.StartContainerRequest) { r.Labels = map[string]string{"dev.gofer.scheduler.managed": "no"} },
		"/nonexistent/gofer":     func(r *scheduler.StartContainerRequest) { r.Mounts = []scheduler.Mount{{Type: scheduler.MountBind, Source: "/nonexistent/gofer", Target: "/x"}} },
	} {
		req := shell(id, "true")
		set(&req)
		_, err := orch.StartContainer(req)
		mustKind(t, err, scheduler.ErrInvalidArgument, field)
		if !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestLogFramesTagStdoutAndStderrInOrder(t *testing.T) {
	id := name(t)
	start(t, shell(id, "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2"))
	frames, err := orch.GetLogFrames(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer frames.Close()
	var got strings.Builder
	var last scheduler.LogStream
	for {
		frame, err := frames.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if frame.Stream != last { // a line may come in more than one frame
			fmt.Fprintf(&got, "%s:", frame.Stream)
			last = frame.Stream
		}
		got.Write(frame.Data)
	}
	if got.String() != "stdout:out1\nstderr:err1\nstdout:out2\n" {
		t.Fatalf("frames %q", got.String())
	}
}

// A pull reports each layer it fetches, with its bytes, as it goes; a callback that panics is
// recovered, not called again, and the start goes on.
func TestPullProgressReportsEachLayer(t *testing.T) {
	image := bed["GOFER_TEST_MULTILAYER_IMAGE"]
	auth := &scheduler.RegistryAuth{User: bed["GOFER_TEST_REGISTRY_USER"], Pass: bed["GOFER_TEST_REGISTRY_PASS"]}
	dockerCLI(t, false, "rmi", "-f", image)
	t.Cleanup(func() { dockerCLI(t, false, "rmi", "-f", image) })

	var seen []scheduler.PullProgress
	req := shell(name(t), "true")
	req.ImageName, req.RegistryAuth = image, auth
	req.PullProgress = func(p scheduler.PullProgress) { seen = append(seen, p) }
	start(t, req)
	// The containerd image store keeps a removed image's layers until its garbage collection and
	// samples a pull's progress on a timer: there a pull may report no layer at all, or no byte
	// counts (docs/contract.md, "Engine versions"). What it sends is handed over, in order.
	if len(seen) < 2 || !strings.HasPrefix(seen[0].Status, "Pulling from ") ||
		!strings.HasPrefix(seen[len(seen)-1].Status, "Status: Downloaded newer image") {
		t.Fatalf("the pull's first and last messages; saw %+v", seen)
	}
	if strings.HasSuffix(os.Getenv("GOFER_ENGINE_VERSION"), "-c8d") {
		return
	}
	complete, sized := map[string]bool{}, map[string]bool{}
	for _, p := range seen {
		switch {
		case p.Status == "Pull complete":
			complete[p.Layer] = true
		case p.Status == "Downloading" && p.Total > 0:
			sized[p.Layer] = true
			if p.Current < 0 || p.Current > p.Total {
				t.Errorf("%s: %d of %d bytes", p.Layer, p.Current, p.Total)
			}
		}
	}
	if len(complete) < 2 {
		t.Fatalf("two layers of random bytes are fetched; saw %+v", seen)
	}
	for layer := range complete {
		if !sized[layer] {
			t.Errorf("layer %s did not report its download's bytes; saw %+v", layer, seen)
		}
	}

	dockerCLI(t, true, "rmi", "-f", image)
	calls := 0
	req = shell(name(t), "true")
	req.ImageName, req.RegistryAuth = image, auth
	req.PullProgress = func(scheduler.PullProgress) { calls++; panic("a caller's bug") }
	start(t, req)
	if calls != 1 {
		t.Fatalf("a callback that panicked was called %d times", calls)
	}
}
