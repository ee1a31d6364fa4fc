// Package benchlib is what the Go clients of the benchmark suite share: the binding's
// (benches/go, a module) and the Docker SDK's (benches/go-sdk, built in GOPATH mode, which finds
// this package through a link that scripts/bench.sh makes under its GOPATH). Standard library
// only. Arguments are key=value pairs after the op; the output is one JSON object on stdout
// (see benches/run.py).
package benchlib

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var args = map[string]string{}

// Parse reads os.Args (`<program> <op> key=value...`) and returns the op.
func Parse(usage string) string {
	if len(os.Args) < 2 {
		Die("usage: %s", usage)
	}
	for _, a := range os.Args[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			Die("bad argument %q", a)
		}
		args[k] = v
	}
	return os.Args[1]
}

// Die reports a failure on stderr and exits with code 2.
func Die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", a...)
	os.Exit(2)
}

// Str is the argument key, or def when it is absent; a def of "\x00" makes it required.
func Str(key, def string) string {
	if v, ok := args[key]; ok {
		return v
	}
	if def == "\x00" {
		Die("missing argument %s=", key)
	}
	return def
}

// Num is the numeric argument key, or def when it is absent.
func Num(key string, def int64) int64 {
	v, ok := args[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		Die("%s=%s is not a number", key, v)
	}
	return n
}

// Emit prints v as the client's one JSON line.
func Emit(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		Die("json: %v", err)
	}
	fmt.Println(string(out))
}

// CPUNs is the process's user+system time so far.
func CPUNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// Status is a numeric field of /proc/self/status ("VmHWM:" in kB, "Threads:"), 0 if absent.
func Status(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field) {
			if f := strings.Fields(l[len(field):]); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// Piece is the default read size of the clients, and the verifier's unit.
const Piece = 64 * 1024

// Verifier checks a stream against the logs fixtures' repeated line (benches/rust/src/lib.rs);
// it is also an io.Writer (for stdcopy.StdCopy).
type Verifier struct {
	pattern       []byte
	period, Total int64
	OK            bool
}

func NewVerifier(line int64) *Verifier {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	l := make([]byte, line)
	for i := int64(0); i+1 < line; i++ {
		l[i] = alphabet[i%36]
	}
	l[line-1] = '\n'
	return &Verifier{pattern: bytes.Repeat(l, int(Piece/line+2)), period: line, OK: true}
}

func (v *Verifier) Feed(data []byte) {
	for len(data) > 0 {
		n := len(data)
		if n > Piece {
			n = Piece
		}
		off := v.Total % v.period
		if !bytes.Equal(v.pattern[off:off+int64(n)], data[:n]) {
			v.OK = false
		}
		v.Total += int64(n)
		data = data[n:]
	}
}

func (v *Verifier) Write(data []byte) (int, error) {
	v.Feed(data)
	return len(data), nil
}

// ScaleExpected is what every container of op scale writes (benches/scale_bench.py): `lines`
// lines of `length` bytes, line i being "%07d " of i, the alphabet pattern and a newline.
func ScaleExpected(lines, length int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	filler := make([]byte, length-9)
	for i := range filler {
		filler[i] = alphabet[i%36]
	}
	out := make([]byte, 0, lines*length)
	for i := 0; i < lines; i++ {
		out = append(out, fmt.Sprintf("%07d ", i)...)
		out = append(out, filler...)
		out = append(out, '\n')
	}
	return out
}

// StreamCheck compares one stream of op scale with the expected bytes as they come (dying at
// the first difference); it is also an io.Writer.
type StreamCheck struct {
	name     string
	expected []byte
	Pos      int
}

func NewStreamCheck(name string, expected []byte) *StreamCheck {
	return &StreamCheck{name: name, expected: expected}
}

func (s *StreamCheck) Feed(data []byte) {
	if s.Pos+len(data) > len(s.expected) || !bytes.Equal(s.expected[s.Pos:s.Pos+len(data)], data) {
		Die("scale: %s: %d bytes at offset %d differ from what the container wrote", s.name, len(data), s.Pos)
	}
	s.Pos += len(data)
}

func (s *StreamCheck) Write(data []byte) (int, error) {
	s.Feed(data)
	return len(data), nil
}

var (
	shortMu                 sync.Mutex
	shortStreams, lostBytes int64
)

// End checks that the stream carried every byte. With allow_short=1 (the clients that do not
// repair the end Docker 20.10 sometimes cuts off a followed log: raw, the peers) a short stream
// is counted instead (Short).
func (s *StreamCheck) End() {
	if s.Pos == len(s.expected) {
		return
	}
	if Num("allow_short", 0) == 0 {
		Die("scale: %s: the stream ended after %d bytes of %d (bytes lost)", s.name, s.Pos, len(s.expected))
	}
	shortMu.Lock()
	shortStreams++
	lostBytes += int64(len(s.expected) - s.Pos)
	shortMu.Unlock()
}

// Short is the number of streams End found short, and the bytes they lacked.
func Short() (streams, bytes int64) {
	shortMu.Lock()
	defer shortMu.Unlock()
	return shortStreams, lostBytes
}

// Timed is the loop of ops state and start: `skip` untimed calls, then `n` timed ones, each call
// followed by after (its check, or an untimed wait); it emits the timed calls' durations.
func Timed(skip, n int64, call, after func()) {
	samples := make([]int64, 0, n)
	for i := int64(0); i < skip+n; i++ {
		t := time.Now()
		call()
		dt := time.Since(t)
		after()
		if i >= skip {
			samples = append(samples, dt.Nanoseconds())
		}
	}
	Emit(map[string]interface{}{"samples_ns": samples})
}

// Attach is op attach's loop on an exec of cat with a TTY: `warmup` then `n` round trips of one
// line written to w, until both the TTY's echo and cat's copy are read back from r; it emits the
// timed ones and ends cat.
func Attach(w io.Writer, r io.Reader) {
	n, warmup := Num("n", 100), Num("warmup", 10)
	chunk := make([]byte, 4096)
	var acc []byte
	samples := make([]int64, 0, n)
	for i := int64(0); i < warmup+n; i++ {
		sent := []byte(fmt.Sprintf("ping-%08d\n", i))
		back := []byte(fmt.Sprintf("ping-%08d\r\n", i))
		acc = acc[:0]
		t := time.Now()
		if _, err := w.Write(sent); err != nil {
			Die("attach write: %v", err)
		}
		for bytes.Count(acc, back) < 2 {
			k, err := r.Read(chunk)
			if err != nil {
				Die("attach read: %v", err)
			}
			acc = append(acc, chunk[:k]...)
		}
		if i >= warmup {
			samples = append(samples, time.Since(t).Nanoseconds())
		}
	}
	w.Write([]byte{4})
	Emit(map[string]interface{}{"samples_ns": samples})
}

// Parallel is op parallel: `workers` goroutines, each running cycle(<prefix>-<worker>) `cycles`
// times (start, logs, exit: the client's way); it emits the containers and the wall time.
func Parallel(cycle func(name string)) {
	prefix := Str("prefix", "\x00")
	workers, cycles := Num("workers", 16), Num("cycles", 1)
	var wg sync.WaitGroup
	t := time.Now()
	for w := int64(0); w < workers; w++ {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			for c := int64(0); c < cycles; c++ {
				cycle(name)
			}
		}(fmt.Sprintf("%s-%d", prefix, w))
	}
	wg.Wait()
	Emit(map[string]interface{}{"containers": workers * cycles, "wall_ns": time.Since(t).Nanoseconds()})
}

// Scale is the frame of ops scale-logs and scale-wait (benches/scale_bench.py): `streams`
// goroutines on each of `count` containers <prefix>-<c>, each running one(c, name, opened), which
// calls opened() once its log is open (or its wait about to be asked for) and returns the bytes
// it read (or 1 for a wait). Once all are open (for waits, `settle_ms` later, so that the waits
// reach the engine first) it creates the file `go` that lets the containers go on, waits for
// every goroutine and emits the result.
func Scale(op string, one func(c int, name string, opened func()) int64) {
	prefix, count, per := Str("prefix", "\x00"), int(Num("count", 1)), int(Num("streams", 1))
	if op != "scale-logs" && op != "scale-wait" {
		Die("unknown op %s", op)
	}
	var opened, done sync.WaitGroup
	opened.Add(count * per)
	done.Add(count * per)
	var total int64
	var mu sync.Mutex
	cpu0, t0 := CPUNs(), time.Now()
	for c := 0; c < count; c++ {
		for s := 0; s < per; s++ {
			go func(c int) {
				defer done.Done()
				n := one(c, fmt.Sprintf("%s-%d", prefix, c), opened.Done)
				mu.Lock()
				total += n
				mu.Unlock()
			}(c)
		}
	}
	opened.Wait()
	if op == "scale-wait" {
		time.Sleep(time.Duration(Num("settle_ms", 2000)) * time.Millisecond)
	}
	openNs := time.Since(t0).Nanoseconds()
	if err := os.WriteFile(Str("go", "\x00"), nil, 0o644); err != nil {
		Die("go file: %v", err)
	}
	done.Wait()
	short, lost := Short()
	Emit(map[string]interface{}{
		"streams": count * per, "bytes": total, "open_ns": openNs, "wall_ns": time.Since(t0).Nanoseconds(),
		"cpu_ns": CPUNs() - cpu0, "vmhwm_kb": Status("VmHWM:"), "threads_end": Status("Threads:"),
		"short_streams": short, "lost_bytes": lost,
	})
}

// WaitCode is the exit code of the containers of op scale-wait (benches/scale_bench.py).
func WaitCode(c int) int64 { return int64(c%200 + 1) }
