package docker_test

// A remote engine over mutual TLS: the private TLS engine of the test bed
// (scripts/netns-engine.sh tls start --tls).

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler"
	"github.com/clintjedwards/gofer-scheduler/bindings/go/scheduler/docker"
)

// tlsEngine starts the TLS engine and returns its tcp:// address, unix:// address and the
// directory of its certificates.
func tlsEngine(t *testing.T) (tcp, unix, certs string) {
	t.Helper()
	out, err := exec.Command("timeout", "180", "../../../../scripts/netns-engine.sh", "tls", "start", "--tls").Output()
	if err != nil {
		t.Fatalf("netns-engine.sh tls start: %v", err)
	}
	vars := map[string]string{}
	scanner := bufio.NewScanner(strings.NewReader(string(out)))
	for scanner.Scan() {
		if k, v, ok := strings.Cut(scanner.Text(), "="); ok {
			vars[k] = v
		}
	}
	return vars["TCP"], vars["HOST"], vars["CERTS"]
}

func TestEveryOperationWorksOverTLS(t *testing.T) {
	tcp, unix, certs := tlsEngine(t)
	client := filepath.Join(certs, "client")
	o, err := docker.NewWithOptions(docker.Options{Host: tcp, TLS: &docker.TLS{
		CA: filepath.Join(client, "ca.pem"), Cert: filepath.Join(client, "cert.pem"), Key: filepath.Join(client, "key.pem"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	id := prefix + "tls-" + strings.ToLower(t.Name())
	defer exec.Command("docker", "-H", unix, "rm", "-fv", id).Run()
	if _, err := o.StartContainer(shell(id, "echo go over tls; exit 6")); err != nil {
		t.Fatal(err)
	}
	state, err := o.WaitContainer(context.Background(), scheduler.WaitContainerRequest{ID: id})
	if err != nil || state.ExitCode != 6 {
		t.Fatalf("wait: %+v, %v", state, err)
	}
	logs, err := o.GetLogs(scheduler.GetLogsRequest{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := lines(logs)
	if err != nil || strings.Join(lines, "|") != "go over tls" {
		t.Fatalf("logs %q, %v", lines, err)
	}

	_, err = docker.NewWithOptions(docker.Options{Host: tcp, TLS: &docker.TLS{CA: filepath.Join(certs, "wrong-ca", "ca.pem"),
		Cert: filepath.Join(client, "cert.pem"), Key: filepath.Join(client, "key.pem")}})
	mustKind(t, err, scheduler.ErrConnection, "a CA that did not sign the engine's certificate")
	if !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("%v", err)
	}
	_, err = docker.NewWithOptions(docker.Options{Host: tcp, TLS: &docker.TLS{CA: filepath.Join(client, "missing.pem")}})
	mustKind(t, err, scheduler.ErrInvalidArgument, "a missing CA file")
}
