#!/usr/bin/env python3
"""run_container: the main job of gofer-scheduler, end to end, from Python.

    python3 run_container.py [IMAGE [COMMAND...]]

Starts a container (IMAGE, else $GOFER_TEST_IMAGE, else busybox:latest; COMMAND, else a short
script), streams its logs to stdout as they come, waits for its exit, prints its final state and
exit code, and exits with that code. Ctrl-C stops the container (it then ends CANCELLED). It
removes nothing: the container stays for `docker logs` / `docker inspect` (its name is printed).

It needs the package gofer_scheduler installed (bindings/python/README.md says how).
"""

import os
import sys

from gofer_scheduler import DockerEngine, SchedulerError

SCRIPT = 'echo "hello from $GOFER_TASK"; for i in 1 2 3; do echo "step $i"; sleep 0.3; done; echo "a warning" >&2; exit 0'


def main() -> int:
    image = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GOFER_TEST_IMAGE", "busybox:latest")
    command = sys.argv[2:] or ["sh", "-c", SCRIPT]
    id = f"gofer-example-py-{os.getpid()}"

    step = "connecting to Docker"
    try:
        with DockerEngine() as engine:
            step = "StartContainer"
            engine.start_container(id, image, env={"GOFER_TASK": id}, command=command)
            print(f"started container {id} ({image})", file=sys.stderr)

            step = "reading the logs"
            try:
                with engine.get_logs(id) as logs:  # stdout and stderr, until the container exits
                    for chunk in logs.chunks():  # as it comes, whatever its lines
                        sys.stdout.buffer.write(chunk)
                        sys.stdout.buffer.flush()
            except KeyboardInterrupt:
                step = "StopContainer"
                print(f"interrupted: stopping {id}", file=sys.stderr)
                engine.stop_container(id, timeout=5)

            step = "WaitContainer"
            result = engine.wait_container(id)  # on the engine's wait endpoint, no polling
    except SchedulerError as err:
        print(f"{step} failed: {err}", file=sys.stderr)
        return 1

    oom = " (out of memory)" if result.oom_killed else ""
    print(f"state: {result.state.value}, exit code: {result.exit_code}{oom}", flush=True)
    return result.exit_code & 0xFF


if __name__ == "__main__":
    sys.exit(main())
