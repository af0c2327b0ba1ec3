#!/usr/bin/env bash
# bench/import/bench.sh: time `rt import` of a large multi-layer docker save
# archive beside plain GNU `tar -x` of the same layers and `umoci unpack` of
# the same image, measured interleaved in one run (so all see the same
# machine), N times each; prints medians and ratios.
#
#   RT=./rt bench/import/bench.sh            # ~100 MB synthetic image
#   SIZE_MB=300 N=7 bench/import/bench.sh
#   BENCH_ROOTFS=/srv/debootstrap bench/import/bench.sh   # a real rootfs as layer 1
#   BENCH_DIR=/dev/shm bench/import/bench.sh   # tmpfs: CPU cost only, no disk noise
#   BENCH_STRICT=1 ...                          # exit 1 if a target is missed
#
# What is timed: rt import (read the archive, verify digests, apply layers
# with whiteouts, write config.json); tar -x of each layer.tar in order
# (no digests, whiteouts left as .wh. files); umoci unpack of the OCI
# layout skopeo made from the same archive (skopeo copy is not timed;
# umoci also verifies digests and writes an mtree manifest of the rootfs).
# Targets: rt within 1.3x of tar -x, and faster than umoci.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RT=${RT:-$repo/rt}
N=${N:-5}
SIZE_MB=${SIZE_MB:-100}
# On disk by default (a real filesystem's figures); BENCH_DIR=/dev/shm
# measures without the disk.
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/rt-import-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -x "$RT" ]; then
	echo "bench: building rt" >&2
	(cd "$repo" && go build -o "$work/rt" .)
	RT=$work/rt
fi
missing=""
for p in umoci skopeo; do command -v "$p" >/dev/null || missing="$missing $p"; done
if [ -n "$missing" ]; then
	echo "bench: installing$missing" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

(cd "$repo" && go run ./bench/import/mkimage -o "$work/img" -size "$SIZE_MB" ${BENCH_ROOTFS:+-from "$BENCH_ROOTFS"})
skopeo copy -q docker-archive:"$work/img/image.tar" oci:"$work/oci:bench" >/dev/null
layers=("$work"/img/layers/*.tar)
files=$(for l in "${layers[@]}"; do tar -tf "$l"; done | wc -l)
echo "image: $(du -m "$work/img/image.tar" | cut -f1) MB docker save, ${#layers[@]} layers, $files entries; N=$N; $(nproc) CPUs; $(df -T "$work" | awk 'NR==2{print $2}') at $work"

ms() { echo $(( ($2 - $1) / 1000000 )); }
run_rt() { "$RT" import "$work/img/image.tar" "$1"; }
run_tar() { mkdir "$1" && for l in "${layers[@]}"; do tar -xf "$l" -C "$1"; done; }
run_umoci() { umoci unpack --image "$work/oci:bench" "$1" >/dev/null; }

# Outputs are kept until the end: deleting 100 MB trees between runs (with
# discard on a VM disk) slows whatever runs next. Each run starts after a
# sync, so no run pays for another's writeback; one untimed warm-up round
# first (page cache, binaries); the order rotates every round.
tools=(rt tar umoci)
for t in "${tools[@]}"; do sync; "run_$t" "$work/warm-$t"; done
declare -A times
for i in $(seq "$N"); do
	for j in 0 1 2; do
		t=${tools[$(( (i + j) % 3 ))]}
		sync
		t0=$(date +%s%N)
		"run_$t" "$work/out-$t-$i"
		t1=$(date +%s%N)
		times[$t]+="$(ms "$t0" "$t1") "
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
# Ratios are taken per round (the three runs of a round see the same
# machine) and their median reported: steadier than a ratio of medians on
# a shared VM.
ratios() { paste -d' ' <(echo "${times[rt]}" | tr ' ' '\n') <(echo "${times[$1]}" | tr ' ' '\n') | awk 'NF==2 && $2>0 {printf "%.2f ", $1/$2}'; }
r_tar=$(ratios tar)
r_umoci=$(ratios umoci)
printf '%-14s %8s   %s\n' tool median "all runs (ms)"
for t in rt tar umoci; do
	printf '%-14s %6d ms   %s\n' "$(case $t in rt) echo "rt import";; tar) echo "tar -x";; umoci) echo "umoci unpack";; esac)" "$(echo "${times[$t]}" | median)" "${times[$t]}"
done
awk -v r1="$(echo "$r_tar" | median)" -v r2="$(echo "$r_umoci" | median)" -v a1="$r_tar" -v a2="$r_umoci" 'BEGIN {
	printf "rt / tar -x       = %.2f  (per round: %s) target <= 1.30: %s\n", r1, a1, r1 <= 1.30 ? "met" : "MISSED"
	printf "rt / umoci unpack = %.2f  (per round: %s) target <  1.00: %s\n", r2, a2, r2 < 1.00 ? "met" : "MISSED"
	exit (ENVIRON["BENCH_STRICT"] == "1" && (r1 > 1.30 || r2 >= 1.00)) ? 1 : 0
}'
