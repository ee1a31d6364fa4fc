// The Docker SDK for Go's client of the benchmark suite: github.com/docker/docker/client, what
// Gofer's Go version called, used the way its documentation shows (Debian's
// golang-github-docker-docker-dev 20.10.24, built in GOPATH mode by scripts/bench.sh:
// GO111MODULE=off GOPATH=<ours>:/usr/share/gocode). A peer, not part of this project.
//
//	gofer-bench-go-sdk <op> key=value...   prints one JSON object on stdout (see benches/run.py)
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/clintjedwards/gofer-scheduler/benches/go/benchlib"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

var (
	startEnv    = []string{"GOFER_BENCH_A=1", "GOFER_BENCH_B=two", "GOFER_BENCH_C=three"}
	startCmd    = []string{"sh", "-c", "exit 0"}
	parallelCmd = []string{"echo", "parallel-ok"}
	waitCmd     = []string{"sh", "-c", "sleep 0.3; echo bye"}
)

// start is Gofer's StartContainer as a Docker SDK user writes it: remove the container of that
// name if there is one, create, start (the raw client's three requests).
func start(cli *client.Client, name, image string, cmd []string) {
	ctx := context.Background()
	err := cli.ContainerRemove(ctx, name, types.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !client.IsErrNotFound(err) {
		benchlib.Die("remove: %v", err)
	}
	_, err = cli.ContainerCreate(ctx, &container.Config{Image: image, Env: startEnv, Cmd: cmd,
		Labels: map[string]string{"dev.gofer.scheduler.managed": "true"}}, &container.HostConfig{}, nil, nil, name)
	if err != nil {
		benchlib.Die("create: %v", err)
	}
	if err := cli.ContainerStart(ctx, name, types.ContainerStartOptions{}); err != nil {
		benchlib.Die("start: %v", err)
	}
}

func state(cli *client.Client, id string) (string, int64) {
	c, err := cli.ContainerInspect(context.Background(), id)
	if err != nil {
		benchlib.Die("inspect: %v", err)
	}
	return c.State.Status, int64(c.State.ExitCode)
}

func waitExited(cli *client.Client, id string) (string, int64) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, code := state(cli, id)
		if s != "running" || time.Now().After(deadline) {
			return s, code
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logs(cli *client.Client, id string) io.ReadCloser {
	rc, err := cli.ContainerLogs(context.Background(), id, types.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		benchlib.Die("logs: %v", err)
	}
	return rc
}

func main() {
	op := benchlib.Parse("gofer-bench-go-sdk <op> key=value...")
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		benchlib.Die("connect: %v", err)
	}
	defer cli.Close()
	image := benchlib.Str("image", "gofer-test/busybox:latest")
	ctx := context.Background()

	switch op {
	case "state":
		id, expect := benchlib.Str("id", "\x00"), benchlib.Num("expect_code", 0)
		var s string
		var code int64
		benchlib.Timed(benchlib.Num("warmup", 20), benchlib.Num("n", 1000), func() { s, code = state(cli, id) }, func() {
			if s != "exited" || code != expect {
				benchlib.Die("state: %s %d", s, code)
			}
		})
	case "start":
		// The first start makes the container each timed start replaces: untimed.
		name := benchlib.Str("name", "\x00")
		benchlib.Timed(1, benchlib.Num("n", 5), func() { start(cli, name, image, startCmd) },
			func() { waitExited(cli, name) }) // the wait is untimed
	case "logs":
		// stdcopy.StdCopy: the SDK's own demultiplexer of the log stream, into the verifier.
		v := benchlib.NewVerifier(benchlib.Num("line", 1024))
		cpu0, t := benchlib.CPUNs(), time.Now()
		rc := logs(cli, benchlib.Str("id", "\x00"))
		if _, err := stdcopy.StdCopy(v, v, rc); err != nil {
			benchlib.Die("logs read: %v", err)
		}
		rc.Close()
		wall, cpu := time.Since(t).Nanoseconds(), benchlib.CPUNs()-cpu0
		if !v.OK || v.Total != benchlib.Num("bytes", 0) {
			benchlib.Die("logs: %d bytes, content ok: %v", v.Total, v.OK)
		}
		benchlib.Emit(map[string]interface{}{"bytes": v.Total, "wall_ns": wall, "cpu_ns": cpu, "vmhwm_kb": benchlib.Status("VmHWM:")})
	case "attach":
		// An exec of cat with a TTY: ContainerExecCreate + ContainerExecAttach (a hijacked
		// connection), one line written and both the TTY's echo and cat's copy read back.
		id := benchlib.Str("id", "\x00")
		exec, err := cli.ContainerExecCreate(ctx, id, types.ExecConfig{Cmd: []string{"cat"}, Tty: true,
			AttachStdin: true, AttachStdout: true, AttachStderr: true})
		if err != nil {
			benchlib.Die("exec create: %v", err)
		}
		hr, err := cli.ContainerExecAttach(ctx, exec.ID, types.ExecStartCheck{Tty: true})
		if err != nil {
			benchlib.Die("exec attach: %v", err)
		}
		benchlib.Attach(hr.Conn, hr.Reader)
		hr.Close()
	case "parallel":
		benchlib.Parallel(func(name string) {
			start(cli, name, image, parallelCmd)
			rc := logs(cli, name)
			var out bytes.Buffer
			if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
				benchlib.Die("logs read: %v", err)
			}
			rc.Close()
			if out.String() != "parallel-ok\n" {
				benchlib.Die("parallel: logs %q", out.String())
			}
			if s, code := waitExited(cli, name); s != "exited" || code != 0 {
				benchlib.Die("parallel: state %s %d", s, code)
			}
		})
	case "wait":
		prefix, n := benchlib.Str("prefix", "\x00"), benchlib.Num("n", 3)
		knew, names := make([]int64, 0, n), make([]string, 0, n)
		for i := int64(0); i < n; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			start(cli, name, image, waitCmd)
			codes, errs := cli.ContainerWait(ctx, name, container.WaitConditionNotRunning)
			select {
			case body := <-codes:
				knew = append(knew, time.Now().UnixNano())
				if body.StatusCode != 0 || body.Error != nil {
					benchlib.Die("wait: %+v", body)
				}
			case err := <-errs:
				benchlib.Die("wait: %v", err)
			}
			names = append(names, name)
		}
		benchlib.Emit(map[string]interface{}{"knew_ns": knew, "names": names})
	case "scale-logs", "scale-wait":
		scale(cli, op)
	default:
		benchlib.Die("unknown op %s", op)
	}
}

// scale is op scale-logs (ContainerLogs + stdcopy.StdCopy) and scale-wait (ContainerWait), a
// goroutine each (benches/scale_bench.py).
func scale(cli *client.Client, op string) {
	if op == "scale-wait" {
		benchlib.Scale(op, func(c int, name string, opened func()) int64 {
			codes, errs := cli.ContainerWait(context.Background(), name, container.WaitConditionNotRunning)
			opened()
			select {
			case body := <-codes:
				if body.StatusCode != benchlib.WaitCode(c) {
					benchlib.Die("wait: %s: exit code %d, want %d", name, body.StatusCode, benchlib.WaitCode(c))
				}
			case err := <-errs:
				benchlib.Die("wait: %s: %v", name, err)
			}
			return 1
		})
		return
	}
	expected := benchlib.ScaleExpected(int(benchlib.Num("lines", 0)), int(benchlib.Num("line", 100)))
	benchlib.Scale(op, func(_ int, name string, opened func()) int64 {
		rc := logs(cli, name)
		opened()
		check := benchlib.NewStreamCheck(name, expected)
		if _, err := stdcopy.StdCopy(check, check, bufio.NewReaderSize(rc, 32*1024)); err != nil {
			benchlib.Die("logs read: %s: %v", name, err)
		}
		rc.Close()
		// Docker 20.10 sometimes ends a followed log before its last lines; the SDK does not
		// repair it: counted with allow_short=1 (benches/scale_bench.py).
		check.End()
		return int64(check.Pos)
	})
}
