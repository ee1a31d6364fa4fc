package core

/*
#include "gofer_scheduler.h"
*/
import "C"

import (
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// attachConn is the net.Conn that AttachContainer returns: a Unix socket connected to the
// exec session, plus the C session, freed on Close.
type attachConn struct {
	*net.UnixConn
	session   *C.GoferAttach
	closeOnce sync.Once
	closeErr  error
}

func newAttachConn(session *C.GoferAttach) (*attachConn, error) {
	// The session owns its descriptor and closes it when freed, so the net.Conn needs a
	// descriptor of its own. net.FileConn makes that copy from an *os.File, but an *os.File
	// closes what it wraps, so it must wrap a (close-on-exec) duplicate, never the original.
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(C.gofer_attach_fd(session)), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		C.gofer_attach_free(session)
		return nil, internalError("cannot duplicate the session descriptor: " + errno.Error())
	}
	file := os.NewFile(dup, "gofer-attach")
	conn, err := net.FileConn(file)
	file.Close()
	if err != nil {
		C.gofer_attach_free(session)
		return nil, internalError("cannot wrap the session descriptor: " + err.Error())
	}
	unixConn, ok := conn.(*net.UnixConn)
	if !ok {
		conn.Close()
		C.gofer_attach_free(session)
		return nil, internalError("the session descriptor is not a Unix socket")
	}
	c := &attachConn{UnixConn: unixConn, session: session}
	// A safety net for a connection dropped without Close.
	runtime.SetFinalizer(c, (*attachConn).Close)
	return c, nil
}

// Read and Write keep c alive while they block, so that the finalizer cannot end the session
// under a goroutine that holds nothing else of it.
func (c *attachConn) Read(p []byte) (int, error) {
	n, err := c.UnixConn.Read(p)
	runtime.KeepAlive(c)
	return n, err
}

func (c *attachConn) Write(p []byte) (int, error) {
	n, err := c.UnixConn.Write(p)
	runtime.KeepAlive(c)
	return n, err
}

// Close ends the exec session and frees it. Closing twice is harmless.
func (c *attachConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.UnixConn.Close()
		C.gofer_attach_free(c.session) // ends the session and closes the library's descriptor
	})
	return c.closeErr
}

func internalError(why string) error {
	return &scheduler.Error{Kind: scheduler.ErrInternal, Message: scheduler.ErrInternal.Error() + ": " + why}
}
