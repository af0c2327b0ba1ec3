# rt: build, example, tests, benchmarks. Everything a fresh Debian machine
# needs is installed by the `deps` target (as root).

GO        ?= go
RT        := $(CURDIR)/rt
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT)
EXAMPLE   := $(CURDIR)/.cache/example
DEB_PKGS  := busybox-static bats jq runc time file libseccomp-dev gawk uidmap
TAGS      := seccomp urfave_cli_no_docs
BENCH_PKGS := umoci skopeo

.PHONY: all rt deps run-example test unit integration cli vet bench conformance stress test-cgroup2 test-cgroup2-ci test-systemd clean runc-suite runc-suite-ci

all: rt

# Static (libseccomp and libc linked in): it starts faster and uses less
# memory than a dynamic binary, and runs on any host (the cgroup v2 box).
# osusergo/netgo keep Go off glibc's NSS, which a static binary cannot load.
# Building needs no root and no network once Go, gcc and libseccomp-dev are
# there (`make deps` installs them; run-example and test call it).
rt:
	CGO_ENABLED=1 $(GO) build -trimpath -tags "$(TAGS) netgo osusergo" -ldflags "-s -w $(LDFLAGS) -linkmode external -extldflags -static" -o $(RT) .

# Install what the tests and the example need, only if missing.
deps:
	@missing=""; for p in $(DEB_PKGS) $(EXTRA_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Build rt, make a busybox bundle and run it in the foreground.
run-example: deps rt
	rm -rf $(EXAMPLE) && mkdir -p $(EXAMPLE)
	RT=$(RT) tests/lib/mkbundle.sh $(EXAMPLE) sh -c 'echo "hello from $$(hostname): pid $$$$, $$(id)"; ls /'
	cd $(EXAMPLE) && $(RT) --root $(CURDIR)/.cache/run run example-$$$$

vet:
	$(GO) vet -tags "$(TAGS)" ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Unit tests (next to the code) then Go end-to-end tests (integration/).
unit:
	$(GO) test -count=1 -tags "$(TAGS)" $$($(GO) list ./... | grep -v /integration)

# RT_DEBIAN_IMAGE: a real Debian 12 image as a docker save archive, built
# once from Debian's mirror and kept in ~/.cache/rt-vm (tests/images/debian.sh).
integration: rt
	RT_DEBIAN_IMAGE=$$(tests/images/debian.sh) RT_BINARY=$(RT) $(GO) test -count=1 -timeout 20m ./integration/...

# Long run of the concurrency stress test (integration/stress_test.go; CI runs
# a few seconds of it): STRESS_ROUNDS rounds of STRESS_SECONDS each.
STRESS_ROUNDS  ?= 30
STRESS_SECONDS ?= 10
stress: rt
	RT_BINARY=$(RT) RT_STRESS_ROUNDS=$(STRESS_ROUNDS) RT_STRESS_SECONDS=$(STRESS_SECONDS) \
		$(GO) test -count=1 -timeout 0 -run 'TestStress' -v ./integration/

# The Go integration suite on a pure cgroup v2 kernel (this host may be v1 or
# hybrid): Debian's cloud kernel in a qemu guest (TCG, no KVM), see
# tests/vm/run.sh. CGROUP2_RUN limits it to matching tests (go test -run).
# The whole suite takes over 25 minutes there (the guest is emulated);
# test-cgroup2-ci, which .ci/run runs, takes the cgroup, lifecycle and
# security tests (about 6 minutes): `make test` runs all of them on the host.
CGROUP2_RUN ?=
CGROUP2_TIMEOUT ?= 1800
CGROUP2_CI_TESTS := ^Test(Rootless|RootlessDelegatedCgroupV2|MemoryLimitOOM|EventsReportsOOM|PidsLimit|CPUQuota|PauseResume|UpdatePidsLimit|UpdateMemoryAndStats|DeviceCgroup|CgroupNamespaceAndMount|ExecSubCgroup|RelativeCgroupsPath|AttackForeignCgroup|StartOfPausedCreatedContainer|ParallelForceDeletes|ExecJoinsTheContainer|InsideContainer|RunStdioAndExitCode|RunKilledExits137|RunForwardsSIGINT|Lifecycle|DuplicateAndInvalidID|InitRunsFromSealedCopy|DotDotPathsStayInRootfs|HostileRootfsSymlinks|CwdThroughProcFd|MaskedPathsStayMasked|SeccompFilter|MaskWithSymlinkedDevNull)$$
test-cgroup2: rt
	RT=$(RT) VM_TIMEOUT=$(CGROUP2_TIMEOUT) tests/vm/run.sh $(if $(CGROUP2_RUN),-test.run '$(CGROUP2_RUN)')

test-cgroup2-ci:
	$(MAKE) --no-print-directory test-cgroup2 CGROUP2_RUN='$(CGROUP2_CI_TESTS)' CGROUP2_TIMEOUT=900

# The systemd cgroup driver (rt --systemd-cgroup) on a systemd-booted pure
# cgroup v2 guest: Debian 12 from debootstrap (built once into .cache/vm,
# about a minute) under qemu, see tests/vm/systemd.sh. About 3 minutes.
test-systemd: rt
	RT=$(RT) tests/vm/systemd.sh

# CLI contract tests (bats, tests/).
cli: rt
	RT=$(RT) bats tests/

# runc's own integration suite (runc v1.5.2's tests/integration/*.bats from the
# Go module) against rt, and against runc built from the same module when the
# module cache allows: tests/runc-suite/run.sh. FILES="a.bats b.bats" picks
# files; FILE_TIMEOUT (s) bounds each; RUNC_REF=/path/runc is the comparison.
# Fails when rt fails a test not in tests/runc-suite/known-failures.txt.
runc-suite: deps rt
	DEBIAN_IMAGE=$${DEBIAN_IMAGE:-$$(tests/images/debian.sh | sed 's/\.tar$$/.rootfs.tar/')} FILES="$(FILES)" tests/runc-suite/run.sh

# The bounded CI subset of runc's suite (.ci/run): the files of the runc
# behaviour containerd, podman and Docker rely on, each fixed in rt and kept
# from regressing: process env and HOME (env), hooks and their errors
# (hooks), capabilities and exec --cap (capabilities), the console socket,
# pty owner and size (tty), exec's flags, exit codes and cgroup (exec), and
# limits, paused and frozen or shared cgroups (cgroups). About 3 minutes
# here; FILE_TIMEOUT bounds each file. No reference runc (NO_REF=1).
RUNC_SUITE_CI_FILES := env.bats hooks.bats capabilities.bats tty.bats exec.bats cgroups.bats
runc-suite-ci: deps rt
	NO_REF=1 FILE_TIMEOUT=240 FILES="$(RUNC_SUITE_CI_FILES)" tests/runc-suite/run.sh

test: deps rt vet unit integration cli

bench: deps rt
	EXTRA_PKGS="$(BENCH_PKGS)" $(MAKE) --no-print-directory deps
	RT=$(RT) bench/run.sh
	@if [ -x bench/import/bench.sh ]; then RT=$(RT) bench/import/bench.sh; fi
	@if [ -x bench/store/bench.sh ]; then RT=$(RT) bench/store/bench.sh; fi
	RT=$(RT) bench/rss/run.sh

conformance: deps rt
	integration/conformance/run.sh

clean:
	rm -rf rt rt.static .cache integration/conformance/build
