package main

// Op scale-logs and scale-wait: many log streams, or many waits, at once in one process (see
// benches/scale_bench.py). Three ways to follow a stream, one goroutine each:
//
//	mode=lib       the binding's GetLogs / WaitContainer (the readiness face: the netpoller)
//	mode=blocking  the C ABI's blocking reader called from the goroutine (gofer_engine_get_logs +
//	               gofer_logs_read): what the binding did before, an OS thread per waiting read
//	mode=raw       net/http over the unix socket, the frames of the multiplexed stream read by hand
//
// Every stream must carry exactly the lines the containers write (benchlib.ScaleExpected), byte
// for byte.

/*
#cgo pkg-config: gofer_scheduler
#include <stdlib.h>
#include "gofer_scheduler.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"unsafe"

	"github.com/clintjedwards/gofer-scheduler/benches/go/benchlib"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

func unixHTTP(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 1024,
		DisableCompression:  true,
	}}
}

// rawFrames reads the multiplexed log stream (8-byte headers, then the payload) into check.
func rawFrames(name string, body io.Reader, buf []byte, check *benchlib.StreamCheck) {
	var head [8]byte
	for {
		if _, err := io.ReadFull(body, head[:]); err != nil {
			if err == io.EOF {
				return
			}
			die("scale raw: %s: %v", name, err)
		}
		size := int(binary.BigEndian.Uint32(head[4:]))
		for size > 0 {
			n := size
			if n > len(buf) {
				n = len(buf)
			}
			if _, err := io.ReadFull(body, buf[:n]); err != nil {
				die("scale raw: %s: %v", name, err)
			}
			check.Feed(buf[:n])
			size -= n
		}
	}
}

func scaleMain(op string) {
	mode := str("mode", "lib")
	var o docker.Orchestrator
	var engine *C.GoferEngine
	switch mode {
	case "lib":
		var err error
		if o, err = docker.New(false, 0); err != nil {
			die("connect: %v", err)
		}
		defer o.Close()
	case "blocking":
		var cerr *C.GoferError
		if C.gofer_engine_new(nil, &engine, &cerr) != C.GOFER_OK {
			die("connect: %s", C.GoString(C.gofer_error_message(cerr)))
		}
	case "raw":
	default:
		die("mode=%s: lib, blocking or raw", mode)
	}
	raw := unixHTTP(engineSocket())
	if op == "scale-wait" {
		benchlib.Scale(op, func(c int, name string, opened func()) int64 {
			var code int64
			switch mode {
			case "lib":
				opened()
				s, err := o.WaitContainer(context.Background(), scheduler.WaitContainerRequest{ID: name})
				if err != nil || s.State != scheduler.ContainerStateExited {
					die("wait: %s: %+v %v", name, s, err)
				}
				code = s.ExitCode
			case "raw":
				opened()
				resp, err := raw.Post("http://docker/containers/"+name+"/wait?condition=not-running", "", nil)
				if err != nil || resp.StatusCode != 200 {
					die("raw wait: %s: %v %v", name, resp, err)
				}
				var body struct{ StatusCode int64 }
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					die("raw wait: %s: %v", name, err)
				}
				resp.Body.Close()
				code = body.StatusCode
			default:
				die("scale-wait: mode=%s: lib or raw", mode)
			}
			if code != benchlib.WaitCode(c) {
				die("wait: %s: exit code %d, want %d", name, code, benchlib.WaitCode(c))
			}
			return 1
		})
		return
	}
	expected := benchlib.ScaleExpected(int(num("lines", 0)), int(num("line", 100)))
	bufSize := int(num("buf", 32*1024))
	benchlib.Scale(op, func(_ int, name string, opened func()) int64 {
		check := benchlib.NewStreamCheck(name, expected)
		buf := make([]byte, bufSize)
		switch mode {
		case "lib":
			r, err := o.GetLogs(scheduler.GetLogsRequest{ID: name})
			if err != nil {
				die("logs: %s: %v", name, err)
			}
			opened()
			for {
				n, err := r.Read(buf)
				check.Feed(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					die("logs read: %s: %v", name, err)
				}
			}
		case "blocking":
			cname := C.CString(name)
			var logs *C.GoferLogs
			var cerr *C.GoferError
			if C.gofer_engine_get_logs(engine, cname, &logs, &cerr) != C.GOFER_OK {
				die("logs: %s: %s", name, C.GoString(C.gofer_error_message(cerr)))
			}
			C.free(unsafe.Pointer(cname))
			opened()
			for {
				var n C.size_t
				if C.gofer_logs_read(logs, (*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &n, &cerr) != C.GOFER_OK {
					die("logs read: %s: %s", name, C.GoString(C.gofer_error_message(cerr)))
				}
				if n == 0 {
					break
				}
				check.Feed(buf[:n])
			}
			C.gofer_logs_free(logs)
		case "raw":
			resp, err := raw.Get("http://docker/containers/" + name + "/logs?follow=1&stdout=1&stderr=1")
			if err != nil {
				die("raw logs: %s: %v", name, err)
			}
			if resp.StatusCode != 200 {
				die("raw logs: %s: %s", name, resp.Status)
			}
			opened()
			rawFrames(name, resp.Body, buf, check)
			resp.Body.Close()
		}
		check.End()
		return int64(check.Pos)
	})
}
