// The Go binding's client of the benchmark suite: bindings/go (scheduler and scheduler/docker,
// cgo over the static library), used the way Gofer uses it.
//
//	gofer-bench-go <op> key=value...   prints one JSON object on stdout (see benches/run.py)
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

var args = map[string]string{}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", a...)
	os.Exit(2)
}

func str(key, def string) string {
	if v, ok := args[key]; ok {
		return v
	}
	if def == "\x00" {
		die("missing argument %s=", key)
	}
	return def
}

func num(key string, def int64) int64 {
	v, ok := args[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		die("%s=%s is not a number", key, v)
	}
	return n
}

func emit(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		die("json: %v", err)
	}
	fmt.Println(string(out))
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func vmhwmKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmHWM:") {
			n, _ := strconv.ParseInt(strings.Fields(s.Text())[1], 10, 64)
			return n
		}
	}
	return 0
}

const piece = 64 * 1024

// verifier checks a stream against the fixture's repeated line (benches/rust/src/lib.rs).
type verifier struct {
	pattern       []byte
	period, total int64
	ok            bool
}

func newVerifier(line int64) *verifier {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	l := make([]byte, line)
	for i := int64(0); i+1 < line; i++ {
		l[i] = alphabet[i%36]
	}
	l[line-1] = '\n'
	return &verifier{pattern: bytes.Repeat(l, int(piece/line+2)), period: line, ok: true}
}

func (v *verifier) feed(data []byte) {
	for len(data) > 0 {
		n := len(data)
		if n > piece {
			n = piece
		}
		off := v.total % v.period
		if !bytes.Equal(v.pattern[off:off+int64(n)], data[:n]) {
			v.ok = false
		}
		v.total += int64(n)
		data = data[n:]
	}
}

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
	if len(os.Args) < 2 {
		die("usage: gofer-bench-go <op> key=value...")
	}
	for _, a := range os.Args[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			die("bad argument %q", a)
		}
		args[k] = v
	}
	o, err := docker.New(false, 0)
	if err != nil {
		die("connect: %v", err)
	}
	defer o.Close()
	image := str("image", "gofer-test/busybox:latest")

	switch op := os.Args[1]; op {
	case "state":
		id := str("id", "\x00")
		expect := num("expect_code", 0)
		n, warmup := num("n", 1000), num("warmup", 20)
		samples := make([]int64, 0, n)
		for i := int64(0); i < warmup+n; i++ {
			t := time.Now()
			s, err := o.GetState(scheduler.GetStateRequest{ID: id})
			dt := time.Since(t)
			if err != nil {
				die("state: %v", err)
			}
			if s.State != scheduler.ContainerStateExited || s.ExitCode != expect {
				die("state: %+v", s)
			}
			if i >= warmup {
				samples = append(samples, dt.Nanoseconds())
			}
		}
		emit(map[string]interface{}{"samples_ns": samples})
	case "state-paired":
		// The raw client's GetState (raw.go) and the binding's, one call each in turn on one
		// goroutine: both see the same machine at the same moment.
		id := str("id", "\x00")
		expect := num("expect_code", 0)
		n, warmup := num("n", 1000), num("warmup", 20)
		raw, err := dialRaw("/var/run/docker.sock")
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
		name := str("name", "\x00")
		n := num("n", 5)
		var samples []int64
		for i := int64(0); i <= n; i++ {
			req := startReq(name, image, startCmd)
			t := time.Now()
			if _, err := o.StartContainer(req); err != nil {
				die("start: %v", err)
			}
			dt := time.Since(t)
			waitExited(o, name) // untimed
			if i > 0 {
				samples = append(samples, dt.Nanoseconds())
			}
		}
		emit(map[string]interface{}{"samples_ns": samples})
	case "logs":
		id := str("id", "\x00")
		v := newVerifier(num("line", 1024))
		buf := make([]byte, num("buf", piece))
		cpu0, t := cpuNs(), time.Now()
		r, err := o.GetLogs(scheduler.GetLogsRequest{ID: id})
		if err != nil {
			die("logs: %v", err)
		}
		for {
			n, err := r.Read(buf)
			v.feed(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				die("logs read: %v", err)
			}
		}
		wall, cpu := time.Since(t).Nanoseconds(), cpuNs()-cpu0
		if !v.ok || v.total != num("bytes", 0) {
			die("logs: %d bytes, content ok: %v", v.total, v.ok)
		}
		emit(map[string]interface{}{"bytes": v.total, "wall_ns": wall, "cpu_ns": cpu, "vmhwm_kb": vmhwmKB()})
	case "attach":
		id := str("id", "\x00")
		n, warmup := num("n", 100), num("warmup", 10)
		resp, err := o.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"cat"}})
		if err != nil {
			die("attach: %v", err)
		}
		conn := resp.Conn
		chunk := make([]byte, 4096)
		var acc []byte
		samples := make([]int64, 0, n)
		for i := int64(0); i < warmup+n; i++ {
			sent := []byte(fmt.Sprintf("ping-%08d\n", i))
			back := []byte(fmt.Sprintf("ping-%08d\r\n", i))
			acc = acc[:0]
			t := time.Now()
			if _, err := conn.Write(sent); err != nil {
				die("attach write: %v", err)
			}
			for bytes.Count(acc, back) < 2 {
				k, err := conn.Read(chunk)
				if err != nil {
					die("attach read: %v", err)
				}
				acc = append(acc, chunk[:k]...)
			}
			if i >= warmup {
				samples = append(samples, time.Since(t).Nanoseconds())
			}
		}
		conn.Write([]byte{4})
		conn.Close()
		emit(map[string]interface{}{"samples_ns": samples})
	case "parallel":
		prefix := str("prefix", "\x00")
		workers, cycles := num("workers", 16), num("cycles", 1)
		var wg sync.WaitGroup
		t := time.Now()
		for w := int64(0); w < workers; w++ {
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				for c := int64(0); c < cycles; c++ {
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
				}
			}(fmt.Sprintf("%s-%d", prefix, w))
		}
		wg.Wait()
		emit(map[string]interface{}{"containers": workers * cycles, "wall_ns": time.Since(t).Nanoseconds()})
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
