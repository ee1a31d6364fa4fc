package docker_test

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// readUntil reads conn until want has been seen; every Read is bounded by a deadline.
func readUntil(t *testing.T, r io.Reader, conn interface{ SetReadDeadline(time.Time) error }, want string) string {
	t.Helper()
	var seen strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(seen.String(), want) {
		conn.SetReadDeadline(deadline)
		n, err := r.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("never saw %q (%v); got %q", want, err, seen.String())
		}
	}
	return seen.String()
}

func TestAttachToShWritesACommandAndReadsItsOutput(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	resp, err := orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	conn := resp.Conn
	defer conn.Close()
	readUntil(t, resp.Reader, conn, "# ") // the prompt

	// The TTY echoes the command line as typed; only the shell's output holds the sum.
	if _, err := conn.Write([]byte("echo attach-$((40+2))\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, conn, "attach-42\r\n")

	// The shell now waits for input (after maybe a prompt): a read deadline must cut the wait.
	began := time.Now()
	for {
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err = conn.Read(make([]byte, 64))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil || time.Since(began) > 10*time.Second {
			t.Fatalf("the read deadline never cut the wait: %v after %v", err, time.Since(began))
		}
	}

	// The process exits: the connection reads end-of-stream.
	conn.SetReadDeadline(time.Time{})
	if _, err := conn.Write([]byte("exit 0\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("no clean end after exit: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// CloseWrite, which the connection has like a *net.UnixConn, ends the process's stdin: cat
// then exits, and the connection reads to its end.
func TestAttachCloseWriteEndsStdin(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	resp, err := orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"cat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Conn.Close()
	if _, err := resp.Conn.Write([]byte("abc\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, resp.Reader, resp.Conn, "abc\r\nabc\r\n") // the TTY's echo, then cat's
	closeWriter, ok := resp.Conn.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("%T has no CloseWrite", resp.Conn)
	}
	if err := closeWriter.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp.Conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if rest, err := io.ReadAll(resp.Reader); err != nil {
		t.Fatalf("cat did not end with its input: %v (read %q)", err, rest)
	}
}

func TestAttachToAnExitedContainerSaysItIsNotRunning(t *testing.T) {
	id := name(t)
	run(t, shell(id, "true"))
	_, err := orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"sh"}})
	mustKind(t, err, scheduler.ErrContainerNotRunning, "attach to an exited container")
}

// Closing the connection frees the session and its descriptors: after many sessions, the
// process holds no more descriptors than before (a little slack for the engine's connection
// pool, which keeps idle connections).
func TestAttachSessionsLeakNoDescriptors(t *testing.T) {
	id := name(t)
	start(t, shell(id, "sleep 300"))
	attach := func() {
		resp, err := orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		io.ReadAll(resp.Conn)
		resp.Conn.Close()
	}
	attach() // warm up the library's runtime and connection pool
	before := openFDs(t)
	for i := 0; i < 10; i++ {
		attach()
	}
	if after := openFDs(t); after > before+3 {
		t.Fatalf("%d descriptors open before 10 sessions, %d after", before, after)
	}

	// Dropped without Close, sessions are freed by the finalizer.
	for i := 0; i < 10; i++ {
		if _, err := orch.AttachContainer(scheduler.AttachContainerRequest{ID: id, Command: []string{"sleep", "300"}}); err != nil {
			t.Fatal(err)
		}
	}
	gc()
	time.Sleep(200 * time.Millisecond)
	if after := openFDs(t); after > before+3 {
		t.Fatalf("%d descriptors open before 10 dropped sessions, %d after the finalizers", before, after)
	}
}
