#!/usr/bin/env bash
# Podman's Docker-compatible API for the engine tests (scripts/test-podman.sh): a rootful
# `podman system service` on a socket of its own, with its configuration, storage, state, lock
# files and network configuration all under target/podman/. The default Docker engine, /etc and
# $HOME are left alone (apart from what Debian's podman package installs: /etc/containers,
# /etc/cni/net.d/87-podman-bridge.conflist, neither of which this service reads).
#
#   scripts/podman.sh start   # idempotent; installs podman if missing, starts the service, loads
#                             # the test images; prints the engine address (unix://...)
#   scripts/podman.sh stop    # removes the containers it ran, stops the service, its network
#   scripts/podman.sh host    # prints the engine address
#   scripts/podman.sh purge   # stop, then delete its storage (images) and configuration
#   scripts/podman.sh env     # prints the path of a file of exports for the podman CLI
#                             # (`. "$(scripts/podman.sh env)"; podman ps -a`)
#
# GOFER_PODMAN_LOG_LEVEL=debug scripts/podman.sh start: the service logs at that level
# (target/podman/podman.log; default info: one line per request).
#
# Why containers start at all here (see "Resource limits" below): this sandbox denies
# CAP_SYS_RESOURCE, so no process may raise a hard rlimit, and `ulimit -Hn` is 20000. Rootful
# Podman 4.3 asks the runtime for RLIMIT_NOFILE and RLIMIT_NPROC of 1048576 for every container
# unless both are given, and runc's setrlimit fails ("error setting rlimit type 7" / "type 6").
# A Docker API create carries no ulimits, so the only source of them is containers.conf
# `default_ulimits`, which must name BOTH limits, with values within the service's own hard
# limits, in the containers.conf the service reads (CONTAINERS_CONF).
#
# Networking: the compat API puts every container on the default network (an empty
# NetworkMode is "bridge" there, whatever containers.conf's netns says). That network is ours:
# a CNI config under target/podman/cni with a bridge of its own ($BRIDGE, a subnet outside
# Docker's pools), no masquerading and no firewall plugin (nothing in the filter table), and the
# portmap plugin for the one test that publishes a port; portmap adds CNI-HOSTPORT-* chains to
# the nat table (with jumps from PREROUTING, OUTPUT, POSTROUTING), which `stop` removes. No rule
# of the default engine is touched.
#
# Outside target/podman, what cannot be moved: network namespaces in /run/netns/cni-* and CNI's
# result cache /var/lib/cni/results/$NET-* (both removed by Podman with each container), the
# cgroups /sys/fs/cgroup/*/libpod_parent (the cgroupfs parent, not configurable in 4.3) and the
# blob-info cache /var/lib/containers/cache/blob-info-cache-v1.boltdb that containers/image
# writes for root at every image copy (load, pull, push: a fixed path for root). `stop` removes
# what is left of them: the directories /var/lib/cni and /var/lib/containers only when `start`
# created them (a marker file here says so).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PD=$ROOT/target/podman
SOCK=$PD/podman.sock
HOST=unix://$SOCK
PIDFILE=$PD/podman.pid
LOG=$PD/podman.log
ENV_FILE=$PD/env
IMAGES=(gofer-test/busybox:latest gofer-test/busybox-entrypoint:latest)
REG=127.0.0.1:5000   # the test bed's registry (scripts/testbed.sh): plain HTTP
# Network name, bridge and subnet derived from this checkout's path, as scripts/private-dockerd.sh
# does: two checkouts get two networks. 10.214.0.0/16 is outside Docker's default pools and
# the private engine's 10.213/16.
CHECKOUT_ID=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
NET=gofer-podman
BRIDGE=gofer-pdm$((CHECKOUT_ID % 100000))
SUBNET=10.214.$((CHECKOUT_ID % 250 + 1))

. "$ROOT/scripts/lib.sh"
log() { echo "podman.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Everything Podman reads from the environment, pointing under $PD. For root, Podman reads
# containers.conf from CONTAINERS_CONF alone when it is set (not /usr/share/containers nor
# /etc/containers, and never ~/.config/containers: that is for rootless Podman only).
podman_env() {
  # containers/image takes registry credentials from DOCKER_CONFIG's config.json when a request
  # brings none: the test bed's (scripts/test.sh exports it) made a pull without credentials of
  # the private image succeed. The service must hold no credentials, as a Docker daemon holds none.
  unset DOCKER_CONFIG
  export CONTAINERS_CONF=$PD/containers.conf
  export CONTAINERS_STORAGE_CONF=$PD/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$PD/registries.conf
  export REGISTRY_AUTH_FILE=$PD/auth.json
  export XDG_CONFIG_HOME=$PD/xdg/config XDG_DATA_HOME=$PD/xdg/data
  export TMPDIR=$PD/tmp
}
d() { timeout "${T:-120}" docker -H "$HOST" "$@"; }
# The default Docker engine, where the test images come from: DOCKER_HOST as the caller has it,
# unless it names this service (`DOCKER_HOST=$(scripts/podman.sh host) scripts/podman.sh start`).
default_docker() {
  if [[ ${DOCKER_HOST:-} == "$HOST" ]]; then env -u DOCKER_HOST timeout 120 docker "$@"; else timeout 120 docker "$@"; fi
}
answers() { [[ -S $SOCK ]] && curl -sf -m 5 --unix-socket "$SOCK" http://d/v1.41/version >/dev/null 2>&1; }

# True when pid $1 is a live podman whose command line names our socket.
ours() {
  local pid=$1
  [[ -n $pid && -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == podman ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SOCK"
}
# Our service's pid: the pid file's, else found by its command line (setsid may have forked).
service_pid() {
  local p
  p=$(cat "$PIDFILE" 2>/dev/null || true)
  if ours "$p"; then echo "$p"; return; fi
  for p in $(pgrep -x podman || true); do
    if ours "$p"; then echo "$p" >"$PIDFILE"; echo "$p"; return; fi
  done
  return 1
}
wait_gone() {   # $1 pid, $2 seconds
  local deadline=$((SECONDS + $2))
  while [[ -e /proc/$1 ]] && ((SECONDS < deadline)); do sleep 0.1; done
  [[ ! -e /proc/$1 ]]
}

# Resource limits. Podman 4.3 (pkg/specgen/container_validate.go, generate/oci.go addRlimits):
# a create that names no ulimits gets containers.conf's default_ulimits; then RLIMIT_NOFILE and
# RLIMIT_NPROC, when not among them, are added at 1048576 each, above what this process may
# raise its hard limits to. So both are given here, at the hard limits Podman's service runs
# with: nofile = `ulimit -Hn` (Podman raises its soft limit to the hard one at start), nproc =
# `ulimit -Hu` but at most kernel.pid_max, because containers/common lowers the service's own
# RLIMIT_NPROC to pid_max at start (getDefaultProcessLimits) and the runtime, its child, cannot
# raise it again. These are the limits a Docker container gets here (it inherits dockerd's).
# Podman 4.3 reads "name=A:B" as hard A, soft B (the docs say soft:hard): equal values avoid
# the question.
ulimits() {
  local nofile nproc pid_max
  nofile=$(ulimit -Hn) nproc=$(ulimit -Hu) pid_max=$(cat /proc/sys/kernel/pid_max)
  [[ $nofile != unlimited ]] || nofile=1048576
  [[ $nproc != unlimited ]] || nproc=$pid_max
  ((nproc <= pid_max)) || nproc=$pid_max
  printf '"nofile=%s:%s", "nproc=%s:%s"' "$nofile" "$nofile" "$nproc" "$nproc"
}

write_config() {
  mkdir -p "$PD"/{storage,run,tmp,cni,cni-ipam,volumes,cwd,xdg/config,xdg/data}
  cat >"$PD/containers.conf" <<EOF
# Written by scripts/podman.sh; read through CONTAINERS_CONF (the only file read then).
[containers]
# Both limits, within the hard limits of the service (see scripts/podman.sh, "Resource limits").
default_ulimits = [$(ulimits)]
# As Docker: no PIDs limit unless asked for (Podman's default is 2048).
pids_limit = 0
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"     # no systemd here
runtime = "runc"
events_logger = "file"
events_logfile_path = "$PD/events.log"
static_dir = "$PD/storage/libpod"
tmp_dir = "$PD/tmp/libpod"
volume_path = "$PD/volumes"
# File locks under tmp_dir, not the shared-memory segment /dev/shm/libpod_lock that any other
# rootful Podman of this machine would share.
lock_type = "file"
# Names in compat API requests are normalised to docker.io/... (Docker's behaviour).
compat_api_enforce_docker_hub = true

[network]
network_backend = "cni"
network_config_dir = "$PD/cni"
default_network = "$NET"
EOF
  cat >"$PD/storage.conf" <<EOF
# Written by scripts/podman.sh; read through CONTAINERS_STORAGE_CONF.
[storage]
driver = "overlay"
graphroot = "$PD/storage"
runroot = "$PD/run"
EOF
  cat >"$PD/registries.conf" <<EOF
# Written by scripts/podman.sh; read through CONTAINERS_REGISTRIES_CONF.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

# The test bed's registry speaks plain HTTP (Docker trusts 127.0.0.0/8 so by default; Podman
# must be told).
[[registry]]
location = "$REG"
insecure = true
EOF
  cat >"$PD/cni/$NET.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$PD/cni-ipam",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  # For the podman CLI by hand: `. "$(scripts/podman.sh env)"; podman ps -a`.
  {
    echo "# Written by scripts/podman.sh: the podman CLI on this service's storage and config."
    (podman_env; for v in CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF REGISTRY_AUTH_FILE XDG_CONFIG_HOME XDG_DATA_HOME; do
      echo "export $v=${!v}"; done)
  } >"$ENV_FILE"
}

start() {
  if answers; then load_images; echo "$HOST"; return; fi
  gofer_need_packages podman=podman
  local dir
  for dir in /var/lib/containers /var/lib/cni; do
    [[ -e $dir ]] || touch "$PD/created${dir//\//.}"
  done
  local launched=0
  service_pid >/dev/null || {
    local net
    net=$(ip route show "$SUBNET.0/24" 2>/dev/null | grep -v "dev $BRIDGE" || true)
    [[ -z $net ]] || die "$SUBNET.0/24 is already routed ($net)"
    write_config
    rm -f "$SOCK"
    # The last run's logs are kept, not all of them.
    [[ ! -f $LOG ]] || mv -f "$LOG" "$LOG.old"
    [[ ! -f $PD/events.log ]] || mv -f "$PD/events.log" "$PD/events.log.old"
    log "starting podman system service on $SOCK (log: $LOG)"
    # setsid+nohup: detached, outlives this script; 9>&-: must not inherit our lock.
    # The working directory: conmon 2.1.6 writes a container's "oom" marker into its own
    # working directory (inherited from here), not where Podman 4.3 looks for it (the
    # container's bundle). Under target/podman that stray file harms nothing.
    mkdir -p "$PD/cwd"
    (cd "$PD/cwd"; podman_env; exec setsid nohup podman --log-level="${GOFER_PODMAN_LOG_LEVEL:-info}" \
      system service --time=0 "$HOST" >>"$LOG" 2>&1 </dev/null 9>&-) &
    launched=$!
    echo "$launched" >"$PIDFILE"
  }
  local deadline=$((SECONDS + 60))
  until answers; do
    ((SECONDS < deadline)) || die "podman did not answer on $SOCK within 60 s; see $LOG"
    # Until exec reaches podman, the launched pid is a shell, setsid or nohup.
    service_pid >/dev/null || [[ $launched != 0 && -e /proc/$launched ]] || die "podman system service exited; see $LOG"
    sleep 0.2
  done
  service_pid >/dev/null || die "something else answers on $SOCK"
  load_images
  echo "$HOST"
}

# The test images, from the default engine, under the names the compat API resolves them to.
load_images() {
  local image want have
  for image in "${IMAGES[@]}"; do
    want=$(default_docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) ||
      die "$image is not in the default docker engine; run scripts/testbed.sh up"
    have=$(d image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    [[ $want != "$have" ]] || continue
    log "loading $image"
    # Podman stores it as localhost/<repo>:<tag>; the compat API resolves the short name the
    # tests use (gofer-test/busybox:latest) to that local image, so no other tag is needed: the
    # inspect below goes through the same lookup as a create.
    default_docker save "$image" | d load >/dev/null
    have=$(d image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    [[ $want == "$have" ]] || die "after the load, $image is ${have:-missing} in podman (want $want)"
  done
}

# Every container and volume of this service is a test's.
remove_containers() {
  answers || return 0
  local ids
  ids=$(d ps -aq --no-trunc 2>/dev/null || true)
  [[ -z $ids ]] || { log "removing $(wc -w <<<"$ids") container(s)"; d rm -fv $ids >/dev/null 2>&1 || true; }
  ids=$(d volume ls -q 2>/dev/null || true)
  [[ -z $ids ]] || d volume rm -f $ids >/dev/null 2>&1 || true
}

stop() {
  local pid
  remove_containers
  if pid=$(service_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 30 || { log "podman $pid ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 10 || true; }
  fi
  # conmon processes of containers still running (after a killed service): ours name our paths.
  local c
  for c in $(pgrep -x conmon || true); do
    tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -qF -- "$PD/" && kill -KILL "$c" 2>/dev/null || true
  done
  # Mounts left behind (overlay layers, shm of containers) would pin the storage.
  local m
  for m in $(awk -v a="$PD" '$2 == a || index($2, a "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  cleanup_network
  cleanup_host
  rm -f "$SOCK" "$PIDFILE"
}

# What Podman leaves outside target/podman (see the top of this file).
cleanup_host() {
  local c dir
  # Empty cgroups only: rmdir fails on one that still holds a process or a child.
  for c in /sys/fs/cgroup/*/libpod_parent; do
    [[ -d $c ]] || continue
    find "$c" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$c" 2>/dev/null || true
  done
  for dir in /var/lib/containers /var/lib/cni; do
    [[ -e $PD/created${dir//\//.} ]] || continue
    rm -f "$dir/cache/blob-info-cache-v1.boltdb"
    find "$dir" -depth -type d -empty -delete 2>/dev/null || true
    [[ -e $dir ]] || rm -f "$PD/created${dir//\//.}"
  done
}

# The bridge, and portmap's nat chains once no container uses them.
cleanup_network() {
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -f /var/lib/cni/results/"$NET"-* 2>/dev/null || true
  local chain
  if iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 && [[ -z $(iptables -t nat -S | grep -E '^-A CNI-(DN|HOSTPORT-DNAT )' || true) ]]; then
    iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
    iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
    iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ 2>/dev/null || true
    for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
      iptables -t nat -F "$chain" 2>/dev/null || true
      iptables -t nat -X "$chain" 2>/dev/null || true
    done
  fi
}

cmd=${1:-}
mkdir -p "$PD"
exec 9>"$PD/.script.lock"
flock -w 300 9 || die "timed out waiting for $PD/.script.lock"
case $cmd in
  start) start ;;
  stop) stop ;;
  host) echo "$HOST" ;;
  env) echo "$ENV_FILE" ;;
  purge) stop; rm -rf "$PD/storage" "$PD/run" "$PD/tmp" "$PD/volumes" "$PD/cni-ipam" ;;
  *) echo "usage: $0 start|stop|host|env|purge" >&2; exit 2 ;;
esac
