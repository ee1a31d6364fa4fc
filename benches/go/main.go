// The Go binding's client of the benchmark suite: bindings/go (scheduler and scheduler/docker,
// cgo over the static library), used the way Gofer uses it.
//
//	gofer-bench-go <op> key=value...   prints one JSON object on stdout (see benches/run.py)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clintjedwards/gofer-scheduler/benches/go/benchlib"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

// The suite's shared helpers (benches/go/benchlib), under the short names this client uses.
var (
	die   = benchlib.Die
	str   = benchlib.Str
	num   = benchlib.Num
	emit  = benchlib.Emit
	cpuNs = benchlib.CPUNs
)

func vmhwmKB() int64 { return benchlib.Status("VmHWM:") }

var (
	startEnv    = map[string]string{"GOFER_BENCH_A": "1", "GOFER_BENCH_B": "two", "GOFER_BENCH_C": "three"}
	startCmd    = []string{"sh", "-c", "exit 0"}
	parallelCmd = []string{"echo", "parallel-ok"}
	// The exit-notice job: its last act is the log line "bye", whose engine timestamp the
	// runner takes for the moment of the exit.
	waitCmd = []string{"sh", "-c", "sleep 0.3; echo bye"}
)

func startReq(name, image string, cmd []string) scheduler.StartContainerRequest {
	c := append([]string(nil), cmd...)
	return scheduler.StartContainerRequest{ID: name, ImageName: image, EnvVars: startEnv, Command: &c}
}

func waitExited(o docker.Orchestrator, id string) scheduler.GetStateResponse {
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := o.GetState(scheduler.GetStateRequest{ID: id})
		if err != nil {
			die("state: %v", err)
		}
		if s.State != scheduler.ContainerStateRunning || time.Now().After(deadline) {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	op := benchlib.Parse("gofer-bench-go <op> key=value...")
	if strings.HasPrefix(op, "scale-") {
		scaleMain(op) // scale.go: makes the engine its mode needs (none for the raw client)
		return
	}
	o, err := docker.New(false, 0)
	if err != nil {
		die("connect: %v", err)
	}
	defer o.Close()
	image := str("image", "gofer-test/busybox:latest")

	switch op {
	case "state":
		id, expect := str("id", "\x00"), num("expect_code", 0)
		var s scheduler.GetStateResponse
		var err error
		benchlib.Timed(num("warmup", 20), num("n", 1000), func() {
			s, err = o.GetState(scheduler.GetStateRequest{ID: id})
		}, func() {
			if err != nil {
				die("state: %v", err)
			}
			if s.State != scheduler.ContainerStateExited || s.ExitCode != expect {
				die("state: %+v", s)
			}
		})
	case "state-paired":
		// The raw client's GetState (raw.go) and the binding's, one call each in turn on one
		// goroutine: both see the same machine at the same moment.
		id := str("id", "\x00")
		expect := num("expect_code", 0)
		n, warmup := num("n", 1000), num("warmup", 20)
		raw, err := dialRaw(engineSocket())
		if err != nil {
			die("raw connect: %v", err)
		}
		defer raw.close()
		rawNs, goNs := make([]int64, 0, n), make([]int64, 0, n)
		one := func(useRaw bool) int64 {
			t := time.Now()
			if useRaw {
				status, code, err := raw.state(id)
				if err != nil || status != "exited" || code != expect {
					die("raw state: %s %d %v", status, code, err)
				}
			} else {
				s, err := o.GetState(scheduler.GetStateRequest{ID: id})
				if err != nil || s.State != scheduler.ContainerStateExited || s.ExitCode != expect {
					die("state: %+v %v", s, err)
				}
			}
			return time.Since(t).Nanoseconds()
		}
		for i := int64(0); i < warmup+n; i++ {
			var a, b int64
			if i%2 == 0 { // alternate which goes first
				a = one(true)
				b = one(false)
			} else {
				b = one(false)
				a = one(true)
			}
			if i >= warmup {
				rawNs, goNs = append(rawNs, a), append(goNs, b)
			}
		}
		emit(map[string]interface{}{"raw_ns": rawNs, "lib_ns": goNs})
	case "start":
		// The first start makes the container each timed start replaces: untimed.
		name := str("name", "\x00")
		req := startReq(name, image, startCmd)
		benchlib.Timed(1, num("n", 5), func() {
			if _, err := o.StartContainer(req); err != nil {
				die("start: %v", err)
			}
		}, func() { waitExited(o, name) }) // the wait is untimed
	case "logs":
		id := str("id", "\x00")
		v := benchlib.NewVerifier(num("line", 1024))
		buf := make([]byte, num("buf", benchlib.Piece))
		cpu0, t := cpuNs(), time.Now()
		r, err := o.GetLogs(scheduler.GetLogsRequest{ID: id})
		if err != nil {
			die("logs: %v", err)
		}
		for {
			n, err := r.Read(buf)
			v.Feed(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				die("logs read: %v", err)
			}
		}
		wall, cpu := time.Since(t).Nanoseconds(), cpuNs()-cpu0
		if !v.OK || v.Total != num("bytes", 0) {
			die("logs: %d bytes, content ok: %v", v.Total, v.OK)
		}
		emit(map[string]interface{}{"bytes": v.Total, "wall_ns": wall, "cpu_ns": cpu, "vmhwm_kb": vmhwmKB()})
	case "attach":
		id := str("id", "\x00")
		resp, err := o.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"cat"}})
		if err != nil {
			die("attach: %v", err)
		}
		benchlib.Attach(resp.Conn, resp.Conn)
		resp.Conn.Close()
	case "parallel":
		benchlib.Parallel(func(name string) {
			if _, err := o.StartContainer(startReq(name, image, parallelCmd)); err != nil {
				die("start: %v", err)
			}
			r, err := o.GetLogs(scheduler.GetLogsRequest{ID: name})
			if err != nil {
				die("logs: %v", err)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				die("logs read: %v", err)
			}
			if string(out) != "parallel-ok\n" {
				die("parallel: logs %q", out)
			}
			s := waitExited(o, name)
			if s.State != scheduler.ContainerStateExited || s.ExitCode != 0 {
				die("parallel: state %+v", s)
			}
		})
	case "wait":
		// The exit notice through the binding's Waiter (the engine's wait endpoint): start
		// <prefix>-<i> (untimed), wait, note the wall-clock time of knowing.
		prefix, n := str("prefix", "\x00"), num("n", 3)
		knew, names := make([]int64, 0, n), make([]string, 0, n)
		ctx := context.Background()
		for i := int64(0); i < n; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			if _, err := o.StartContainer(startReq(name, image, waitCmd)); err != nil {
				die("start: %v", err)
			}
			s, err := o.WaitContainer(ctx, scheduler.WaitContainerRequest{ID: name})
			knew = append(knew, time.Now().UnixNano())
			if err != nil {
				die("wait: %v", err)
			}
			if s.State != scheduler.ContainerStateExited || s.ExitCode != 0 {
				die("wait: %+v", s)
			}
			names = append(names, name)
		}
		emit(map[string]interface{}{"knew_ns": knew, "names": names})
	case "overhead":
		// An invalid argument through the whole binding: Go wrapper, cgo, the library's check.
		n := num("n", 1000000)
		t := time.Now()
		for i := int64(0); i < n; i++ {
			_, err := o.GetState(scheduler.GetStateRequest{ID: ""})
			if !errors.Is(err, scheduler.ErrInvalidArgument) {
				die("overhead: expected ErrInvalidArgument, got %v", err)
			}
		}
		emit(map[string]interface{}{"ns_per_call": float64(time.Since(t).Nanoseconds()) / float64(n)})
	default:
		die("unknown op %s", op)
	}
}
