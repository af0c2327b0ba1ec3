#!/usr/bin/env bash
# debian.sh: a real Debian 12 image for the tests, as files (no registry
# here): `debootstrap --variant=minbase bookworm`, packed as a legacy
# `docker save` archive (bench/import/mkimage -from, owners and modes as
# debootstrap left them: root, _apt, the games and mail groups, setuid
# binaries, ...) and as a plain rootfs tarball (runc's suite's
# DEBIAN_IMAGE). Kept in $VM_DOWNLOADS (default ~/.cache/rt-vm) across
# clones, like Go's module cache; the first build takes 1-3 minutes and
# needs Debian's mirror (DEBIAN_MIRROR, else the host's apt source).
#
# Prints the docker save archive's path; the rootfs tarball lies beside it
# (debian-bookworm.rootfs.tar).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VM_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/rt-vm}
out=$cache/debian-bookworm.tar
log() { echo "debian-image: $*" >&2; }
if [ -s "$out" ] && [ -s "$cache/debian-bookworm.rootfs.tar" ]; then
	echo "$out"
	exit 0
fi
[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap)"; exit 1; }
dpkg -s debootstrap >/dev/null 2>&1 || {
	log "installing debootstrap"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
mkdir -p "$cache"
work=$(mktemp -d "$cache/debian.XXXXXX")
trap 'rm -rf "$work"' EXIT
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
log "debootstrap bookworm (minbase) from $mirror"
if ! debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -20 "$work/debootstrap.log" >&2
	log "debootstrap failed"
	exit 1
fi
# What the images on Docker Hub leave out too (their /dev is empty).
rm -rf "$work/rootfs"/dev/*
rm -rf "$work/rootfs"/var/cache/apt/*.bin "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/usr/share/{doc,man,info}
mkdir -p "$work/rootfs/var/cache/apt/archives/partial"
chown _apt:root "$work/rootfs/var/cache/apt/archives/partial" 2>/dev/null ||
	chown "$(awk -F: '$1 == "_apt" {print $3}' "$work/rootfs/etc/passwd")":0 "$work/rootfs/var/cache/apt/archives/partial"
chmod 700 "$work/rootfs/var/cache/apt/archives/partial"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/mkimage" ./bench/import/mkimage)
"$work/mkimage" -o "$work/img" -size 0 -from "$work/rootfs" # one layer: the tree
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$cache/debian-bookworm.rootfs.tar"
mv "$work/img/image.tar" "$out"
log "built $out"
echo "$out"
