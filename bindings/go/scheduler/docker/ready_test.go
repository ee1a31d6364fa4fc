package docker_test

// Waiting holds no OS thread: log reads and waits park their goroutines in the netpoller.

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
)

// osThreads is the number of OS threads of this process.
func osThreads(t *testing.T) int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Threads:") {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// 300 goroutines wait at once (200 reading logs that have nothing to give, 100 waiting for
// exits): the process keeps a few dozen threads, and every one of them gets its answer.
func TestThreeHundredWaitingGoroutinesHoldNoThreadEach(t *testing.T) {
	const containers, readersEach, waitsEach = 10, 20, 10
	ids := make([]string, containers)
	for i := range ids {
		ids[i] = name(t)
		start(t, shell(ids[i], "echo ready; until [ -f /go ]; do sleep 0.1; done; echo done; exit 7"))
	}
	before := osThreads(t)
	var wg sync.WaitGroup
	errs := make(chan error, containers*(readersEach+waitsEach))
	var mu sync.Mutex
	outputs := map[string]int{}
	for _, id := range ids {
		for r := 0; r < readersEach; r++ {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				logs, err := orch.GetLogs(scheduler.GetLogsRequest{ID: id})
				if err != nil {
					errs <- err
					return
				}
				out, err := io.ReadAll(logs)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				outputs[string(out)]++
				mu.Unlock()
			}(id)
		}
		for w := 0; w < waitsEach; w++ {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*step)
				defer cancel()
				state, err := orch.WaitContainer(ctx, scheduler.WaitContainerRequest{ID: id})
				if err == nil && (state.State != scheduler.ContainerStateExited || state.ExitCode != 7) {
					t.Errorf("%s: %+v", id, state)
				}
				if err != nil {
					errs <- err
				}
			}(id)
		}
	}
	// Everyone is waiting now: the readers have read "ready" and wait for more.
	time.Sleep(3 * time.Second)
	during := osThreads(t)
	if during > 64 {
		t.Errorf("%d OS threads while 300 goroutines wait (%d before)", during, before)
	}
	t.Logf("OS threads: %d before, %d while 300 goroutines wait", before, during)
	for _, id := range ids {
		// The exec may be reported killed (137) when the container exits right after the
		// touch; the outputs below say whether every container went on.
		dockerCLI(t, false, "exec", id, "touch", "/go")
	}
	bounded(t, "every goroutine's answer", wg.Wait)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if outputs["ready\ndone\n"] != containers*readersEach || len(outputs) != 1 {
		t.Errorf("outputs: %v", outputs)
	}
}
