#!/usr/bin/env bash
# Newer engines and toolchains than Debian 12 ships, from Debian's newer suites, unpacked under
# target/dist/ and never installed over the system's (they would replace its engine and Go).
#
#   scripts/dist.sh NAME        # fetches NAME once (cached), prints its directory
#   scripts/dist.sh NAME path   # prints the PATH entries to put first (a dockerd or a go)
#   scripts/dist.sh NAME goroot # prints GOROOT (go-* only)
#   scripts/dist.sh list        # the names
#
# Names:
#   docker-26.1   trixie's docker.io 26.1.x (API 1.45) and containerd 1.7.x
#   docker-28.5   sid's docker.io 28.5.x (API 1.51) and containerd 2.1.x
#   go-1.24       trixie's golang-1.24 (the go command and its standard library)
#   go-newest     the newest golang-1.NN that sid ships (1.27 when this was written)
#   docker-20.10 and go-system name the system's own (Debian 12's): nothing to fetch, PATH empty.
#
# The suites come from the same Debian registry the machine's apt uses (the URIs: line of
# /etc/apt/sources.list.d/debian.sources); every .deb is checked against the SHA256 the suite's
# Packages index gives. A second run downloads nothing: target/dist/NAME/ready holds the versions.
# Runtime needs: the engines' dockerd, containerd, containerd-shim-runc-v2 and docker-proxy need
# glibc >= 2.34 (Debian 12 has 2.36); sid's runc needs 2.38, so Debian 12's runc stays on the PATH.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=$ROOT/target/dist

log() { echo "dist: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -1)
  [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  [[ -n $uri ]] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources"
  echo "${uri%/}"
}

# The suite's Packages index, uncompressed, cached for this run of the script only: a later
# fetch (another NAME) reads the suite as it is then.
index() {
  local suite=$1 file=$DIST/index/$1-Packages
  if [[ ! -s $file || -n $(find "$file" -mmin +60 2>/dev/null) ]]; then
    mkdir -p "$DIST/index"
    log "reading $suite's package index"
    curl -fsS -m 300 --retry 3 "$(mirror)/dists/$suite/main/binary-amd64/Packages.xz" | xz -dc >"$file.tmp" ||
      die "cannot read $(mirror)/dists/$suite/main/binary-amd64/Packages.xz"
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

# "Version Filename SHA256" of package $2 in suite $1.
entry() {
  awk -v p="$2" 'BEGIN { RS = "" } $0 ~ "(^|\n)Package: " p "\n" {
      v = f = s = ""
      n = split($0, l, "\n")
      for (i = 1; i <= n; i++) {
        if (l[i] ~ /^Version: /) v = substr(l[i], 10)
        if (l[i] ~ /^Filename: /) f = substr(l[i], 11)
        if (l[i] ~ /^SHA256: /) s = substr(l[i], 9)
      }
      print v, f, s; exit
    }' "$(index "$1")"
}

# Fetches package $2 of suite $1 (its version must start with $3) and unpacks it into $4.
unpack() {
  local suite=$1 pkg=$2 want=$3 into=$4 version file sum deb
  read -r version file sum < <(entry "$suite" "$pkg") || true
  [[ -n ${file:-} ]] || die "$suite has no package $pkg"
  [[ $version == "$want"* ]] || die "$suite's $pkg is $version now, not $want*: the suite moved on (update scripts/dist.sh)"
  deb=$DIST/debs/${file##*/}
  if [[ ! -f $deb ]]; then
    mkdir -p "$DIST/debs"
    log "downloading $pkg $version ($suite)"
    curl -fsS -m 900 --retry 3 -o "$deb.tmp" "$(mirror)/$file" || die "cannot download $(mirror)/$file"
    [[ $(sha256sum "$deb.tmp" | cut -d' ' -f1) == "$sum" ]] || { rm -f "$deb.tmp"; die "$file: checksum differs from $suite's index"; }
    mv "$deb.tmp" "$deb"
  fi
  dpkg -x "$deb" "$into"
  echo "$pkg $version"
}

# The newest golang-1.NN-go of sid, as "1.NN".
newest_go() {
  grep -o '^Package: golang-1\.[0-9]*-go$' "$(index sid)" | sed 's/^Package: golang-//; s/-go$//' | sort -t. -k2,2n | tail -1
}

fetch() {
  local name=$1 dir=$DIST/$1 tmp
  [[ -f $dir/ready ]] && return 0
  tmp=$DIST/.$name.tmp
  rm -rf "$tmp"; mkdir -p "$tmp/root" "$tmp/bin"
  case $name in
    docker-26.1 | docker-28.5)
      local suite=trixie containerd=1.7.
      [[ $name == docker-28.5 ]] && suite=sid containerd=2.1.
      { unpack "$suite" docker.io "${name#docker-}." "$tmp/root"
        unpack "$suite" containerd "$containerd" "$tmp/root"; } >"$tmp/versions"
      local b
      for b in usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/bin/ctr; do
        [[ -x $tmp/root/$b ]] || die "$name: no $b in the packages"
        ln -s "../root/$b" "$tmp/bin/${b##*/}"
      done
      # Its init for `--init` (tini) is not fetched: the tests do not use it.
      ;;
    go-1.24 | go-newest)
      local v=${name#go-} suite=trixie
      [[ $name == go-newest ]] && { suite=sid; v=$(newest_go); [[ -n $v ]] || die "sid ships no golang-1.NN-go"; }
      { unpack "$suite" "golang-$v-go" "$v." "$tmp/root"
        unpack "$suite" "golang-$v-src" "$v." "$tmp/root"; } >"$tmp/versions"
      ln -s "../root/usr/lib/go-$v/bin/go" "$tmp/bin/go"
      ln -s "../root/usr/lib/go-$v/bin/gofmt" "$tmp/bin/gofmt"
      echo "usr/lib/go-$v" >"$tmp/goroot"
      ;;
    *) die "unknown name $name ($(names))" ;;
  esac
  rm -rf "$dir"; mv "$tmp" "$dir"
  mv "$dir/versions" "$dir/ready"
  log "$name ready: $(tr '\n' ' ' <"$dir/ready")"
}

names() { echo "docker-20.10 docker-26.1 docker-28.5 go-system go-1.24 go-newest"; }

name=${1:-}; what=${2:-dir}
[[ -n $name ]] || { echo "usage: $0 NAME [dir|path|goroot] | list" >&2; exit 2; }
[[ $name == list ]] && { names; exit 0; }
case $name in
  docker-20.10 | go-system) [[ $what == goroot ]] && die "$name is the system's: no GOROOT of ours"; exit 0 ;;
esac
mkdir -p "$DIST"
exec 9>"$DIST/.lock"
flock -w 1200 9 || die "timed out waiting for $DIST/.lock"
fetch "$name"
case $what in
  dir) echo "$DIST/$name" ;;
  path) echo "$DIST/$name/bin" ;;
  goroot) [[ -f $DIST/$name/goroot ]] || die "$name is not a Go"; echo "$DIST/$name/root/$(cat "$DIST/$name/goroot")" ;;
  *) die "unknown request $what (dir, path, goroot)" ;;
esac
