#!/usr/bin/env bash
# bench/store/bench.sh: the image store's figures, against one generated
# image (busybox as its first layer, then SIZE_MB of synthetic files), all
# measured in this one run, interleaved, N rounds, medians of per-round
# ratios:
#   1. first `rt load` (empty store)       vs tar -x of its layers   target <= 1.30
#   2. second `rt load` (layers stored)    vs tar -x of its layers   target <= 0.05
#   3. `rt run --image IMG true` start     vs rt run of a bundle     target <= 1.20
#   4. 100 containers at once from IMG: the store holds one copy of the
#      layers, each container's disk use is its upper dir only.
#
#   RT=./rt bench/store/bench.sh        SIZE_MB=600 N=7 bench/store/bench.sh
#   BENCH_STRICT=1 ...                  exit 1 if a target is missed
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RT=${RT:-$repo/rt}
N=${N:-5}
SIZE_MB=${SIZE_MB:-300}
PAR=${PAR:-100}
fixtures=${FIXTURES:-$repo/../shared/images}
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/rt-store-bench.XXXXXX")
state=$work/state
cleanup() {
	set +e
	for d in "$state"/*; do
		if [ -e "$d" ]; then "$RT" --root "$state" delete -f "$(basename "$d")" >/dev/null 2>&1; fi
	done
	grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT
[ -x "$RT" ] || { echo "bench: build rt first (make rt)" >&2; exit 1; }

"$RT" import "$fixtures/busybox.tar" "$work/bb" >/dev/null
(cd "$repo" && go run ./bench/import/mkimage -o "$work/img" -size "$SIZE_MB" -from "$work/bb/rootfs")
image=$work/img/image.tar
layers=("$work"/img/layers/*.tar)
"$RT" import "$image" "$work/bundle" >/dev/null
echo "image: $(du -m "$image" | cut -f1) MB docker save, ${#layers[@]} layers; N=$N; $(nproc) CPUs; $(df -T "$work" | awk 'NR==2{print $2}') at $work"

now() { date +%s%N; }
ms() { echo "scale=3; ($2 - $1) / 1000000" | bc; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

declare -A t
for i in $(seq "$N"); do
	sync
	t0=$(now); mkdir "$work/tar-$i"; for l in "${layers[@]}"; do tar -xf "$l" -C "$work/tar-$i"; done; t1=$(now)
	t[tar]+="$(ms "$t0" "$t1") "
	sync
	t0=$(now); "$RT" --store "$work/store-$i" load "$image" >/dev/null; t1=$(now)
	t[load1]+="$(ms "$t0" "$t1") "
	t0=$(now); "$RT" --store "$work/store-$i" load "$image" >/dev/null; t1=$(now)
	t[load2]+="$(ms "$t0" "$t1") "
	rm -rf "$work/tar-$i"
	[ "$i" -gt 1 ] && rm -rf "$work/store-$((i - 1))"
done
store=$work/store-$N
ratio() { paste -d' ' <(echo "${t[$1]}" | tr ' ' '\n') <(echo "${t[$2]}" | tr ' ' '\n') | awk 'NF==2 && $2>0 {printf "%.3f ", $1/$2}'; }

# Start: run of true, from the image (overlay mount + config + create +
# delete + unmount) and from the imported bundle, interleaved.
for i in $(seq $((N * 4))); do
	t0=$(now); "$RT" --root "$state" --store "$store" run --image rt-bench/large r-img-$i -- true; t1=$(now)
	t[runimg]+="$(ms "$t0" "$t1") "
	t0=$(now); "$RT" --root "$state" run -b "$work/bundle" r-bdl-$i -- true; t1=$(now)
	t[runbdl]+="$(ms "$t0" "$t1") "
done

# 100 at once: created in parallel, each writes a small file.
layers_kb=$(du -sk "$store/layers" | cut -f1)
for i in $(seq "$PAR"); do
	"$RT" --root "$state" --store "$store" run -d --image rt-bench/large p$i -- sh -c 'echo hello >/written; sleep 1000' >/dev/null 2>&1 </dev/null &
done
wait
running=$("$RT" --root "$state" list -q | wc -l)
layers_kb2=$(du -sk "$store/layers" | cut -f1)
upper_max=0
for d in "$store"/containers/*/upper; do
	k=$(du -sk "$d" | cut -f1); [ "$k" -gt "$upper_max" ] && upper_max=$k
done
ncont=$(ls "$store/containers" | wc -l)
for i in $(seq "$PAR"); do "$RT" --root "$state" delete -f p$i >/dev/null 2>&1 & done
wait

r1=$(ratio load1 tar | median); r2=$(ratio load2 tar | median); r3=$(ratio runimg runbdl | median)
printf '%-30s %10s   %s\n' what median "all runs (ms)"
for k in tar load1 load2 runbdl runimg; do
	printf '%-30s %7.1f ms   %s\n' "$(case $k in tar) echo "tar -x of the layers";; load1) echo "rt load (first)";; load2) echo "rt load (layers stored)";; runbdl) echo "rt run -b bundle true";; runimg) echo "rt run --image true";; esac)" "$(echo "${t[$k]}" | median)" "${t[$k]}"
done
awk -v r1="$r1" -v r2="$r2" -v r3="$r3" -v par="$PAR" -v run="$running" -v n="$ncont" -v l1="$layers_kb" -v l2="$layers_kb2" -v up="$upper_max" 'BEGIN {
	printf "first load / tar -x        = %.3f  target <= 1.30: %s\n", r1, r1 <= 1.30 ? "met" : "MISSED"
	printf "second load / tar -x       = %.3f  target <= 0.05: %s\n", r2, r2 <= 0.05 ? "met" : "MISSED"
	printf "run --image / run -b       = %.3f  target <= 1.20: %s\n", r3, r3 <= 1.20 ? "met" : "MISSED"
	ok = (run == par && n == par && l1 == l2)
	printf "%d containers at once: %d running, %d container dirs; layers %d KiB before and %d KiB with them (one copy); largest upper dir %d KiB: %s\n", par, run, n, l1, l2, up, ok ? "met" : "MISSED"
	exit (ENVIRON["BENCH_STRICT"] == "1" && (r1 > 1.30 || r2 > 0.05 || r3 > 1.20 || !ok)) ? 1 : 0
}'
