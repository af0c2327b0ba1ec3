#!/usr/bin/env bash
# rss/run.sh: peak RSS (GNU time %M) of rt against small static binaries
# that link only parts of rt's dependencies (bench/rss/*/main.go), each
# built as rt is built (static, cgo, libseccomp). It measures what issue
# 14's memory target depends on: how much of rt's peak is the floor every
# start path needs, and how much each named dependency adds just by being
# linked. Medians of N runs, each binary dropped from the page cache first
# (as bench/run.sh does), printed in MiB.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RT=${RT:-$REPO/rt}
N=${N:-15}
OUT=$(mktemp -d /tmp/rt-rss.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cd "$REPO"
for p in floor cgroups cli systemd; do
	CGO_ENABLED=1 go build -trimpath -tags "seccomp netgo osusergo" \
		-ldflags "-s -w -linkmode external -extldflags -static" -o "$OUT/$p" ./bench/rss/$p
done
cfg=$OUT/bundle/config.json
mkdir -p "$OUT/bundle"
"$RT" spec --bundle "$OUT/bundle" >/dev/null
peak() { # binary args...: median %M in KiB over N runs
	local b=$1 i
	shift
	for i in $(seq "$N"); do
		sync "$b"
		dd if="$b" iflag=nocache count=0 status=none 2>/dev/null || true
		/usr/bin/time -f %M "$b" "$@" 2>&1 >/dev/null | tail -1
	done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
wall() { # binary args...: median wall time in ms over 4N warm runs
	local b=$1 i t0 t1
	shift
	for i in $(seq $((N * 4))); do
		t0=$EPOCHREALTIME
		"$b" "$@" >/dev/null 2>&1 || true
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b-a)*1000}'
	done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
size() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f", b/1048576}'; }
printf '%-44s %8s %8s %8s\n' "binary" "size MB" "peak MiB" "wall ms"
printf '%-44s %8s %8s %8s\n' "floor (spec, x/sys, securejoin, libseccomp)" "$(size "$OUT/floor")" "$(mib "$(peak "$OUT/floor" "$cfg")")" "$(wall "$OUT/floor" "$cfg")"
printf '%-44s %8s %8s %8s\n' "floor + containerd/cgroups/v3" "$(size "$OUT/cgroups")" "$(mib "$(peak "$OUT/cgroups" "$cfg")")" "$(wall "$OUT/cgroups" "$cfg")"
printf '%-44s %8s %8s %8s\n' "floor + urfave/cli/v2 (run -b)" "$(size "$OUT/cli")" "$(mib "$(peak "$OUT/cli" run -b "$OUT/bundle")")" "$(wall "$OUT/cli" run -b "$OUT/bundle")"
printf '%-44s %8s %8s %8s\n' "floor + opencontainers/cgroups/systemd" "$(size "$OUT/systemd")" "$(mib "$(peak "$OUT/systemd" "$cfg")")" "$(wall "$OUT/systemd" "$cfg")"
printf '%-44s %8s %8s %8s\n' "rt --version" "$(size "$RT")" "$(mib "$(peak "$RT" --version)")" "$(wall "$RT" --version)"
