# Shared steps of the project's scripts; source it: `. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.
#
#   gofer_need_packages CMD=PKG...  installs (apt) the package of each command that is missing;
#                                   a bare PKG is checked as an installed Debian package
#   gofer_apt_install PKG...        installs Debian packages, non-interactively and bounded
#   gofer_busybox_rootfs DIR        fills DIR with a static busybox root file system
#   gofer_testbed_env               exports the test bed's facts (target/testbed/env) that are
#                                   not set already: scripts/test-engine.sh points them at
#                                   another engine and registry
#   gofer_go_env ROOT               exports what `go` needs to build the binding against the
#                                   checkout's release library (pkg-config path, cgo flags)
#   gofer_import_busybox IMAGE LABEL VERSION DOCKER...
#                                   imports that root file system as IMAGE, labelled LABEL=VERSION,
#                                   through the docker CLI command DOCKER... (e.g. `docker -H unix://...`)
#
# The image needs no registry (none is reachable here): a static busybox (package busybox-static)
# and its applet links, a passwd/group for root, /tmp.

# Installs Debian packages. Without systemd, postinst scripts would start services through
# init.d: docker-registry's would start a stock, auth-less registry on :5000 and squat the test
# bed's port. Service starts are denied during the install.
gofer_apt_install() {
  [[ $# -gt 0 ]] || return 0
  echo "installing: $*" >&2
  local our_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && our_policy=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -qq --no-install-recommends "$@" >/dev/null || status=$?
  [[ -z $our_policy ]] || rm -f /usr/sbin/policy-rc.d
  return $status
}

gofer_need_packages() {
  local need=() item cmd pkg
  for item in "$@"; do
    if [[ $item == *=* ]]; then
      cmd=${item%%=*} pkg=${item#*=}
      command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
    else
      dpkg -s "$item" 2>/dev/null | grep -q '^Status: install ok installed' || need+=("$item")
    fi
  done
  [[ ${#need[@]} -eq 0 ]] || gofer_apt_install $(printf '%s\n' "${need[@]}" | sort -u)
}

gofer_busybox_rootfs() {
  local r=$1 bb=/bin/busybox info a
  info=$(file -L "$bb")
  # A dynamic busybox would need ld.so and libc inside the image; refuse it instead of a
  # confusing "no such file or directory" at container start.
  [[ $info == *statically* && $info != *interpreter* ]] || { echo "$bb is not statically linked: $info (apt-get install busybox-static)" >&2; return 1; }
  mkdir -p "$r"/{bin,etc,tmp,root}
  chmod 1777 "$r/tmp"
  cp "$bb" "$r/bin/busybox"
  for a in $("$bb" --list); do [[ -e $r/bin/$a ]] || ln -s busybox "$r/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
  echo 'root:x:0:' >"$r/etc/group"
}

gofer_import_busybox() {
  local image=$1 label=$2 version=$3 r status=0
  shift 3
  r=$(mktemp -d "${TMPDIR:-/tmp}/gofer-rootfs.XXXXXX")
  gofer_busybox_rootfs "$r" || { rm -rf "$r"; return 1; }
  # CMD so that `docker run IMAGE` alone gives a shell; the label tells our image from a
  # same-named one, its version when the recipe changes.
  tar -C "$r" --numeric-owner --owner=0 --group=0 -c . |
    timeout 120 "$@" import -c 'CMD ["/bin/sh"]' -c "LABEL $label=$version" - "$image" >/dev/null || status=$?
  rm -rf "$r"
  return $status
}

gofer_testbed_env() {
  local file key value
  file=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/testbed/env
  [[ -f $file ]] || { echo "no $file: run scripts/testbed.sh up" >&2; return 1; }
  while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z_][A-Z0-9_]*$ && -z ${!key+set} ]] && export "$key=$value"
  done <"$file"
  return 0
}

gofer_go_env() {
  local root=$1 stamp
  # The binding finds the library through pkg-config: the checkout's own build here.
  "$root/bindings/go/gen-pkgconfig.sh" "$root/target/release" >/dev/null
  export PKG_CONFIG_PATH=$root/target/release
  # The go command does not notice when the C library or header changes (`go help cache`), and
  # would link a stale archive from its cache. A stamp of both in CGO_CFLAGS, which is part of
  # its cache keys, makes it rebuild exactly when they change.
  stamp=$(stat -c '%n %s %Y' "$root/target/release/libgofer_scheduler.a" "$root/include/gofer_scheduler.h" | sha256sum | cut -c1-16)
  export CGO_ENABLED=1 CGO_CFLAGS="-O2 -g -DGOFER_LIB_STAMP=$stamp"
}
