#!/usr/bin/env bash
# A private Docker engine for the fault tests (tests/faults.rs): a second dockerd, with its own
# socket, data root, exec root, pid file and managed containerd, that the tests may kill and
# restart without disturbing the default engine that every other test (and engineer) uses.
#
#   scripts/private-dockerd.sh start     # idempotent; prints the engine address (unix://...)
#   scripts/private-dockerd.sh stop      # graceful stop (SIGTERM), then its containerd and shims
#   scripts/private-dockerd.sh kill      # SIGKILL dockerd only: a crash (containerd survives)
#   scripts/private-dockerd.sh freeze    # SIGSTOP dockerd: it accepts connections, answers none
#   scripts/private-dockerd.sh thaw      # SIGCONT
#   scripts/private-dockerd.sh restart   # stop, then start
#   scripts/private-dockerd.sh host      # prints the engine address
#   scripts/private-dockerd.sh netns     # prints its network namespace (/run/netns/...)
#   scripts/private-dockerd.sh purge     # stop, then delete its data (image, containers)
#
# Everything lives under target/faults/. The default dockerd is never signalled: every process
# this script signals is checked to be a dockerd or containerd whose command line names OUR
# directory.
#
# Networking: the private engine runs in a network namespace of its own ($NS, loopback only; its
# containers need no network), so that it has its own docker0 and iptables and leaves the host's
# alone. (Run beside the default engine with networking off, dockerd 20.10 deletes the host's
# `docker0` at start; a newer dockerd refuses --ip6tables without --iptables.) As a guard, start
# still checks that the host's docker0 survived.
#
# Version: $GOFER_ENGINE_VERSION (scripts/netns-engine.sh's names; default docker-20.10, the
# system's), each with a data root of its own; a running engine of another version is stopped
# first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAULTS=$ROOT/target/faults
SOCK=$FAULTS/docker.sock
HOST=unix://$SOCK
VERSION=${GOFER_ENGINE_VERSION:-docker-20.10}
DATA=$FAULTS/data-$VERSION
# The exec root holds containerd's socket: keep its path short (108-byte limit for sockets).
EXEC=$FAULTS/exec
PIDFILE=$FAULTS/dockerd.pid
LOG=$FAULTS/dockerd.log
IMAGE=gofer-test/busybox:latest
MARK=gofer.testbed.rootfs   # same label and version as scripts/testbed.sh's image
MARK_VER=1
# The namespace's name is derived from this checkout's path, so that private engines of two
# checkouts (a benchmark copy, say) do not share one.
CHECKOUT_ID=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
NS=gofer-flt$((CHECKOUT_ID % 100000))
. "$ROOT/scripts/lib.sh"
log() { echo "private-dockerd: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
d() { timeout "${T:-30}" docker -H "$HOST" "$@"; }
answers() { [[ -S $SOCK ]] && timeout 5 docker -H "$HOST" version >/dev/null 2>&1; }

# True when pid $1 is a live $2 (dockerd/containerd) whose command line mentions our directory.
ours() {
  local pid=$1 comm=$2
  [[ -n $pid && -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$FAULTS/"
}
dockerd_pid() { local p; p=$(cat "$PIDFILE" 2>/dev/null || true); ours "$p" dockerd && echo "$p"; }
containerd_pid() {
  local p; p=$(cat "$EXEC/containerd/containerd.pid" 2>/dev/null || true); ours "$p" containerd && echo "$p"
}
wait_gone() {   # $1 pid, $2 seconds
  local deadline=$((SECONDS + $2))
  while [[ -e /proc/$1 ]] && ((SECONDS < deadline)); do sleep 0.1; done
  [[ ! -e /proc/$1 ]]
}

ensure_netns() {
  ip netns list | grep -qw "$NS" || { ip netns add "$NS" && ip -n "$NS" link set lo up; }
}

# The default engine's bridge must survive our engine's start. Should it vanish anyway, put it
# back as the default engine had it (its network "bridge", interface docker0) and fail loudly.
check_default_bridge() {   # $1: whether docker0 existed before the start
  [[ $1 == yes ]] || return 0
  ip link show docker0 >/dev/null 2>&1 && return 0
  local subnet gw
  subnet=$(timeout 10 docker network inspect bridge -f '{{(index .IPAM.Config 0).Subnet}}' 2>/dev/null || echo 172.17.0.0/16)
  gw=$(timeout 10 docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null || true)
  [[ -n $gw ]] || gw=${subnet%.*/*}.1
  ip link add docker0 type bridge && ip addr add "$gw/${subnet#*/}" dev docker0 && ip link set docker0 up || true
  die "docker0 disappeared while the private engine started; re-created it ($gw/${subnet#*/}). See $LOG"
}

start() {
  mkdir -p "$FAULTS" "$EXEC"
  if answers && [[ $(cat "$FAULTS/version" 2>/dev/null) == "$VERSION" ]]; then echo "$HOST"; return; fi
  local had_docker0=no
  ip link show docker0 >/dev/null 2>&1 && had_docker0=yes
  if [[ -n $(dockerd_pid) && $(cat "$FAULTS/version" 2>/dev/null) != "$VERSION" ]]; then
    log "the private engine runs $(cat "$FAULTS/version" 2>/dev/null || echo another version); stopping it for $VERSION"
    stop
  fi
  mkdir -p "$DATA"
  local path=$PATH
  case $VERSION in
    docker-20.10) ;;
    docker-26.1 | docker-28.5 | docker-28.5-c8d) path=$("$ROOT/scripts/dist.sh" "${VERSION%-c8d}" path):$PATH ;;
    *) die "unknown engine version $VERSION (docker-20.10, docker-26.1, docker-28.5, docker-28.5-c8d)" ;;
  esac
  ensure_netns
  if [[ -z $(dockerd_pid) ]]; then
    # A socket left by a killed dockerd would make the new one fail to listen.
    rm -f "$SOCK"
    # An empty configuration of our own: /etc/docker/daemon.json is the default engine's.
    if [[ $VERSION == *-c8d ]]; then echo '{"features": {"containerd-snapshotter": true}}'; else echo '{}'; fi >"$FAULTS/daemon.json"
    echo "$VERSION" >"$FAULTS/version"
    log "starting dockerd $VERSION on $SOCK in $NS (log: $LOG)"
    # --exec-root gives it a containerd of its own (state, socket, pid file under $EXEC);
    # --containerd-namespace keeps its shims apart from the default engine's "moby" namespace.
    PATH=$path setsid nohup nsenter --net="/run/netns/$NS" dockerd \
      --host "$HOST" \
      --data-root "$DATA" \
      --exec-root "$EXEC" \
      --pidfile "$PIDFILE" \
      --containerd-namespace gofer-faults \
      --containerd-plugins-namespace gofer-faults-plugins \
      --cgroup-parent gofer-faults \
      --shutdown-timeout 2 \
      --config-file "$FAULTS/daemon.json" \
      >>"$LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE.launch"
  fi
  local deadline=$((SECONDS + 60))
  until answers; do
    ((SECONDS < deadline)) || die "the private dockerd did not answer within 60 s; see $LOG"
    [[ -n $(dockerd_pid) || -e /proc/$(cat "$PIDFILE.launch" 2>/dev/null || echo 0) ]] ||
      die "the private dockerd exited; see $LOG"
    sleep 0.2
  done
  check_default_bridge "$had_docker0"
  import_image
  echo "$HOST"
}

# The test image, from the static busybox, as scripts/testbed.sh builds it: no registry and no
# other engine needed.
import_image() {
  [[ $(d image inspect -f "{{index .Config.Labels \"$MARK\"}}" "$IMAGE" 2>/dev/null) != "$MARK_VER" ]] || return 0
  log "importing $IMAGE"
  TMPDIR=$FAULTS gofer_import_busybox "$IMAGE" "$MARK" "$MARK_VER" docker -H "$HOST" || die "cannot import $IMAGE"
}

signal_dockerd() {   # $1 signal; fails when our dockerd is not running
  local pid; pid=$(dockerd_pid) || { log "no private dockerd running"; return 1; }
  kill "-$1" "$pid"
  echo "$pid"
}

stop() {
  local pid
  if pid=$(dockerd_pid); then
    kill -CONT "$pid" 2>/dev/null || true   # a frozen dockerd cannot handle SIGTERM
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 30 || { log "dockerd $pid ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 10 || true; }
  fi
  # After a crash (kill) the managed containerd and the shims of running containers survive
  # dockerd; a new dockerd would adopt them, but `stop` means everything goes.
  if pid=$(containerd_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
  fi
  local shim
  for shim in $(pgrep -f "containerd-shim.*-namespace gofer-faults " || true); do
    tr '\0' ' ' <"/proc/$shim/cmdline" 2>/dev/null | grep -qF -- "$EXEC/" && kill -KILL "$shim" 2>/dev/null || true
  done
  # Mounts left behind by a killed engine (overlay layers, shm, netns) would pin the data root.
  local m
  # (dockerd also bind-mounts its data root onto itself, private: that one goes last.)
  for m in $(awk -v a="$FAULTS/data" -v b="$EXEC" 'index($2, a) == 1 || $2 == b || index($2, b "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -f "$SOCK" "$PIDFILE" "$PIDFILE.launch"
  ip netns del "$NS" 2>/dev/null || true
}

cmd=${1:-}
mkdir -p "$FAULTS"
# Serialise concurrent invocations (several test processes, or a test and a human).
exec 9>"$FAULTS/.script.lock"
flock -w 120 9 || die "timed out waiting for $FAULTS/.script.lock"
case $cmd in
  start) start ;;
  stop) stop ;;
  kill) pid=$(signal_dockerd KILL); wait_gone "$pid" 10 || die "dockerd $pid survived SIGKILL" ;;
  freeze) signal_dockerd STOP >/dev/null ;;
  thaw) signal_dockerd CONT >/dev/null ;;
  restart) stop; start ;;
  host) echo "$HOST" ;;
  netns) echo "/run/netns/$NS" ;;
  purge) stop; rm -rf "$FAULTS"/data-* "$EXEC" ;;
  *) echo "usage: $0 start|stop|kill|freeze|thaw|restart|host|netns|purge" >&2; exit 2 ;;
esac
