package main

// The raw client's GetState written in Go, for the paired measurement (op state-paired): the
// same requests as benches/rust/src/bin/raw.rs, on a blocking unix socket driven by plain system
// calls (not the Go runtime's poller, which the Rust raw client does not have either), HTTP/1.1
// with keep-alive, the body read whole and the State's Status and ExitCode found by a byte scan.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

type rawConn struct {
	fd     int
	buf    []byte
	r, w   int
	prefix string // "/v1.41": the engine's API version
}

// engineSocket is the engine's Unix socket: DOCKER_HOST's when it is a unix:// address (as the
// library finds it; scripts/bench-engines.sh points it at another engine version), else
// Docker's default socket.
func engineSocket() string {
	if host := os.Getenv("DOCKER_HOST"); strings.HasPrefix(host, "unix://") {
		return strings.TrimPrefix(host, "unix://")
	}
	return "/var/run/docker.sock"
}

func dialRaw(socket string) (*rawConn, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	c := &rawConn{fd: fd, buf: make([]byte, 64*1024)}
	body, err := c.get("/version")
	if err != nil {
		c.close()
		return nil, err
	}
	v, ok := scanString(body, `"ApiVersion":"`)
	if !ok {
		c.close()
		return nil, errors.New("version: no ApiVersion")
	}
	c.prefix = "/v" + v
	return c, nil
}

func (c *rawConn) close() { syscall.Close(c.fd) }

// fill reads more bytes, keeping the unread ones.
func (c *rawConn) fill() error {
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.w == len(c.buf) {
		copy(c.buf, c.buf[c.r:c.w])
		c.w -= c.r
		c.r = 0
	}
	if c.w == len(c.buf) {
		return errors.New("item larger than the buffer")
	}
	for {
		n, err := syscall.Read(c.fd, c.buf[c.w:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("connection closed")
		}
		c.w += n
		return nil
	}
}

// line returns the next CRLF-terminated line (without the CRLF).
func (c *rawConn) line() ([]byte, error) {
	for {
		if i := bytes.Index(c.buf[c.r:c.w], []byte("\r\n")); i >= 0 {
			l := c.buf[c.r : c.r+i]
			c.r += i + 2
			return l, nil
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// take appends the next n bytes to out.
func (c *rawConn) take(n int, out []byte) ([]byte, error) {
	for n > 0 {
		if c.r == c.w {
			if err := c.fill(); err != nil {
				return nil, err
			}
		}
		k := c.w - c.r
		if k > n {
			k = n
		}
		out = append(out, c.buf[c.r:c.r+k]...)
		c.r += k
		n -= k
	}
	return out, nil
}

// get sends a GET and returns the body of a 200 answer.
func (c *rawConn) get(path string) ([]byte, error) {
	req := "GET " + c.prefix + path + " HTTP/1.1\r\nHost: docker\r\n\r\n"
	for b := []byte(req); len(b) > 0; {
		n, err := syscall.Write(c.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		b = b[n:]
	}
	status, err := c.line()
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return nil, fmt.Errorf("answer %q", status)
	}
	length, chunked := -1, false
	for {
		h, err := c.line()
		if err != nil {
			return nil, err
		}
		if len(h) == 0 {
			break
		}
		lower := bytes.ToLower(h)
		if bytes.HasPrefix(lower, []byte("content-length:")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(h[len("content-length:"):]))); err != nil {
				return nil, fmt.Errorf("Content-Length: %w", err)
			}
		} else if bytes.HasPrefix(lower, []byte("transfer-encoding:")) && bytes.Contains(lower, []byte("chunked")) {
			chunked = true
		}
	}
	var body []byte
	if !chunked {
		if length < 0 {
			return nil, errors.New("no length")
		}
		return c.take(length, body)
	}
	for {
		size, err := c.line()
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(string(bytes.SplitN(size, []byte(";"), 2)[0]), 16, 64)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if _, err := c.line(); err != nil { // the empty trailer line
				return nil, err
			}
			return body, nil
		}
		if body, err = c.take(int(n), body); err != nil {
			return nil, err
		}
		if _, err := c.line(); err != nil {
			return nil, err
		}
	}
}

// state is the raw GetState: the container's State.Status and State.ExitCode.
func (c *rawConn) state(id string) (string, int64, error) {
	body, err := c.get("/containers/" + id + "/json")
	if err != nil {
		return "", 0, err
	}
	i := bytes.Index(body, []byte(`"State":`))
	if i < 0 {
		return "", 0, errors.New("no State")
	}
	body = body[i:]
	status, ok := scanString(body, `"Status":"`)
	if !ok {
		return "", 0, errors.New("no Status")
	}
	j := bytes.Index(body, []byte(`"ExitCode":`))
	if j < 0 {
		return "", 0, errors.New("no ExitCode")
	}
	rest := body[j+len(`"ExitCode":`):]
	k := 0
	for k < len(rest) && (rest[k] == '-' || (rest[k] >= '0' && rest[k] <= '9')) {
		k++
	}
	code, err := strconv.ParseInt(string(rest[:k]), 10, 64)
	return status, code, err
}

func scanString(body []byte, key string) (string, bool) {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}
