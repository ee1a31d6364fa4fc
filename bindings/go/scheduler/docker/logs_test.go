package docker_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

func TestLogsOfAnExitedContainerAreWholeThenEOF(t *testing.T) {
	id := name(t)
	start(t, shell(id, "seq 1 20000"))
	waitExit(t, id)
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.(io.Closer).Close()
	got, err := lines(logs)
	if err != nil || len(got) != 20000 || got[19999] != "20000" {
		t.Fatalf("%d lines, %v", len(got), err)
	}
	// The end stays the end.
	if n, err := logs.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("after EOF: %d, %v", n, err)
	}
}

func TestCloseWakesAReadBlockedInAnotherGoroutine(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := logs.Read(make([]byte, 64))
		read <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the Read block in C
	if err := logs.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-read:
		if err == nil || err == io.EOF {
			t.Fatalf("a closed stream must not look like an ended one: %v", err)
		}
		mustKind(t, err, scheduler.ErrInvalidState, "blocked Read")
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake the blocked Read")
	}
	_, err = logs.Read(make([]byte, 64))
	mustKind(t, err, scheduler.ErrInvalidState, "Read after Close")
	logs.(io.Closer).Close()
}

// Many goroutines reading one stream at once get every byte exactly once (Reads are
// serialized, and the race detector watches).
func TestConcurrentReadsOfOneStreamShareIt(t *testing.T) {
	id := name(t)
	start(t, shell(id, "yes 0123456789 | head -n 5000"))
	waitExit(t, id)
	logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.(io.Closer).Close()
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for {
				n, err := logs.Read(buf)
				mu.Lock()
				total += int64(n)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if total != 5000*11 {
		t.Fatalf("read %d bytes, want %d", total, 5000*11)
	}
}

// If the engine goes away mid-stream, Read fails: a silent EOF would make a truncated log look
// whole. The engine is reached through a TCP proxy that the test cuts.
func TestABrokenStreamIsAnErrorNotEOF(t *testing.T) {
	id := name(t) // first: its cleanup must run after DOCKER_HOST is restored
	proxy := newProxy(t, engineSocket())
	t.Setenv("DOCKER_HOST", "tcp://"+proxy.addr())
	o, err := docker.New(false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	start(t, shell(id, "echo started; sleep 300"))
	logs, err := o.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.(io.Closer).Close()
	scanner := bufio.NewScanner(logs)
	if !scanner.Scan() || scanner.Text() != "started" {
		t.Fatalf("first line %q, %v", scanner.Text(), scanner.Err())
	}
	proxy.cut()
	done := make(chan struct{})
	go func() { scanner.Scan(); close(done) }()
	select {
	case <-done:
	case <-time.After(step):
		t.Fatal("Read did not notice the broken connection")
	}
	if err := scanner.Err(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("want an error, got %v", err)
	}
	mustKind(t, scanner.Err(), scheduler.ErrConnection, "broken stream")
	_, err = logs.Read(make([]byte, 64))
	mustKind(t, err, scheduler.ErrConnection, "the Read after the error, which must not be an EOF")

	// With the engine unreachable, calls fail with ErrConnection too.
	_, err = o.GetState(scheduler.GetStateRequest{ID: id})
	mustKind(t, err, scheduler.ErrConnection, "GetState through a dead proxy")
}

// proxy forwards TCP connections to a unix socket until cut.
type proxy struct {
	listener net.Listener
	mu       sync.Mutex
	conns    []net.Conn
}

func newProxy(t *testing.T, socket string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{listener: l}
	t.Cleanup(p.cut)
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("unix", socket)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.mu.Unlock()
			go func() { io.Copy(server, client); server.Close() }()
			go func() { io.Copy(client, server); client.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.listener.Addr().String() }

func (p *proxy) cut() {
	p.listener.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
