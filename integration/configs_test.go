package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

var rlimitNumbers = map[string]int{"RLIMIT_NOFILE": syscall.RLIMIT_NOFILE, "RLIMIT_NPROC": 6}

// haveCap reports whether capability n is in this process's bounding set.
func haveCap(n uint) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			bits, err := strconv.ParseUint(v, 16, 64)
			return err == nil && bits&(1<<n) != 0
		}
	}
	return false
}

// Configs written by other tools (issue 9): testdata/configs holds
// config.json files as runc, crun, rt, podman and containerd write them
// (see testdata/configs/README.md). Each runs with rt, and with runc (and
// crun) where installed, on a busybox rootfs; exit status and what the
// process sees (capabilities, ids, rlimits, mounts, limits) must agree.

// probeScript prints what the container was set up with, one fact a line.
// Nothing in it changes the container.
const probeScript = `
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
echo "id: $(id)"
echo "hostname: $(hostname)"
echo "nofile: $(ulimit -Sn) $(ulimit -Hn)"
echo "nproc: $(ulimit -Su) $(ulimit -Hu)"
echo "umask: $(umask)"
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
echo "pids.max: $(cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null)"
echo "etc: $(ls -A /etc | sort | tr '\n' ' ')"
echo "ping_group_range: $(cat /proc/sys/net/ipv4/ping_group_range)"
awk '{for (i = 7; $i != "-"; i++) ; print "mount:", $5, $(i+1), $6}' /proc/self/mountinfo | sort
`

// bindFiles are the bind destinations tools fill with a file (the others
// are directories).
var bindFiles = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true, "/run/.containerenv": true, "/dev/termination-log": true}

// localize makes a corpus config runnable here: the busybox rootfs, the
// probe as the process, no terminal, new namespaces instead of the
// sandbox's (paths of a pod that does not exist), bind sources made in the
// bundle, and the runtime's default cgroup (so nothing is made outside the
// runtime's own tree). Everything else stays as the tool wrote it.
func localize(t *testing.T, bundle string, cfg map[string]any) {
	t.Helper()
	obj(cfg, "root")["path"] = "rootfs"
	p := obj(cfg, "process")
	p["args"] = []any{"sh", "-c", probeScript}
	p["terminal"] = false
	l := obj(cfg, "linux")
	delete(l, "cgroupsPath")
	if nss, ok := l["namespaces"].([]any); ok {
		for _, ns := range nss {
			delete(ns.(map[string]any), "path")
		}
	}
	// Without CAP_SYS_RESOURCE (this CI machine's bounding set lacks it) no
	// runtime can raise a hard limit above its own: such a limit is lowered
	// to the one the test has.
	if rls, ok := p["rlimits"].([]any); ok && !haveCap(24) {
		for _, rr := range rls {
			r := rr.(map[string]any)
			res, ok := rlimitNumbers[r["type"].(string)]
			if !ok {
				continue
			}
			var cur syscall.Rlimit
			if syscall.Getrlimit(res, &cur) != nil {
				continue
			}
			for _, k := range []string{"hard", "soft"} {
				if v, _ := r[k].(float64); uint64(v) > cur.Max {
					r[k] = float64(cur.Max)
				}
			}
		}
	}
	mounts, _ := cfg["mounts"].([]any)
	for i, mm := range mounts {
		m := mm.(map[string]any)
		opts := fmt.Sprint(m["options"])
		if m["type"] != "bind" && !strings.Contains(opts, "bind") {
			continue
		}
		dest := m["destination"].(string)
		if src, _ := m["source"].(string); filepath.IsAbs(src) {
			if _, err := os.Stat(src); err == nil {
				continue // a host path that exists here (/sys of a rootless spec)
			}
		}
		src := filepath.Join(bundle, "binds", fmt.Sprintf("%d", i))
		var err error
		if bindFiles[dest] {
			os.MkdirAll(filepath.Dir(src), 0o755)
			err = os.WriteFile(src, []byte("from "+dest+"\n"), 0o644)
		} else {
			err = os.MkdirAll(src, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		m["source"] = src
	}
}

type runtimeResult struct {
	code   int
	out    string
	stderr string
}

// runOther runs the localized bundle with another runtime (runc, crun),
// foreground, under a private --root; the container is deleted at the end.
func (e *env) runOther(rt, bundle, id string) runtimeResult {
	e.t.Helper()
	root := filepath.Join(e.dir, rt+"-state")
	e.t.Cleanup(func() { _ = exec.Command(rt, "--root", root, "delete", "--force", id).Run() })
	cmd := exec.Command(rt, "--root", root, "run", "--bundle", bundle, id)
	outf, errf := e.tempFile(), e.tempFile()
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s run: %v", rt, err)
	}
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	return runtimeResult{code, string(out), string(errb)}
}

// normalize drops from the probe what the runtimes legitimately do
// differently: per-mount flags (compared by mountsAtLeastAsStrict) and
// the file a masked path shows (rt binds the host's /dev/null, a devtmpfs
// file; runc the container's, on its /dev tmpfs; both are the null device).
//
// Without a hostname in the config, a new uts namespace is named after the
// container ID by rt (as Docker does; README "Per-container overrides") and
// keeps the host's name with runc: that line is dropped then.
func normalize(out string, masked map[string]bool, hostname bool) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if !hostname && strings.HasPrefix(l, "hostname: ") {
			continue
		}
		if f := strings.Fields(l); len(f) == 4 && f[0] == "mount:" {
			if masked[f[1]] {
				f[2] = "(masked)"
			}
			l = strings.Join(f[:3], " ")
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// corpusFailures are the configs rt refuses, with the error it must give;
// runc refuses them too.
var corpusFailures = map[string]string{
	// crun maps the caller's ids when a new user namespace has none.
	"crun-1.8-spec-rootless": "rt: config.json: linux.uidMappings: a new user namespace needs uid mappings",
}

func TestConfigCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(), "integration/testdata/configs/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	others := []string{}
	for _, rt := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(rt); err == nil {
			others = append(others, rt)
		}
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			b := e.bundle("b", nil, "true")
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			if err := json.Unmarshal(data, &cfg); err != nil {
				t.Fatal(err)
			}
			localize(t, b, cfg)
			data, _ = json.MarshalIndent(cfg, "", "  ")
			if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("rt-test-%d-%s", os.Getpid(), name)
			out, errs, code := e.rtIn(b, nil, "run", id+"-rt")
			if want, ok := corpusFailures[name]; ok {
				if code != 1 || !strings.HasPrefix(errs, want) || strings.Count(errs, "\n") != 1 {
					t.Fatalf("rt run: exit %d, stderr %q; want exit 1, %q", code, errs, want)
				}
				if _, err := exec.LookPath("runc"); err == nil {
					if res := e.runOther("runc", b, id+"-runc"); res.code == 0 {
						t.Errorf("runc runs what rt refuses:\n%s", res.out)
					}
				}
				return
			}
			if code != 0 {
				t.Fatalf("rt run: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
			}
			if strings.Count(errs, "\n") > 1 || strings.Contains(errs, "goroutine") {
				t.Errorf("rt's stderr is more than one warning line:\n%s", errs)
			}
			checkProbe(t, name, cfg, out)
			masked := map[string]bool{}
			for _, m := range obj(cfg, "linux")["maskedPaths"].([]any) {
				masked[m.(string)] = true
			}
			for _, other := range others {
				res := e.runOther(other, b, id+"-"+other)
				if res.code != 0 {
					// runc is the reference: every config here runs with it.
					// crun is only recorded: crun 1.8 knows neither hybrid
					// cgroups nor runtime-spec 1.3 (rt spec's ociVersion).
					if other == "runc" {
						t.Errorf("runc: exit %d, rt: exit 0: %s", res.code, strings.TrimSpace(res.stderr))
					} else {
						t.Logf("%s: exit %d: %s", other, res.code, strings.TrimSpace(res.stderr))
					}
					continue
				}
				hn := cfg["hostname"] != nil && cfg["hostname"] != ""
				if a, b := normalize(out, masked, hn), normalize(res.out, masked, hn); a != b {
					t.Errorf("rt and %s differ:\n%s", other, lineDiff(a, b, "rt", other))
				}
				mountsAtLeastAsStrict(t, out, res.out, other, masked)
			}
		})
	}
}

// mountsAtLeastAsStrict checks that every mount has each of ro, nosuid,
// nodev, noexec that the other runtime gives it. rt may be stricter: it
// makes the cgroup tmpfs read-only and keeps nosuid,nodev,noexec on
// readonlyPaths; the atime flavour is the kernel's default and not
// compared. Masked paths are the null device or an empty read-only tmpfs
// either way.
func mountsAtLeastAsStrict(t *testing.T, rtOut, otherOut, other string, masked map[string]bool) {
	t.Helper()
	flags := func(out string) map[string]map[string]bool {
		m := map[string]map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) != 4 || f[0] != "mount:" || masked[f[1]] {
				continue
			}
			set := map[string]bool{}
			for _, o := range strings.Split(f[3], ",") {
				set[o] = true
			}
			m[f[1]] = set // the topmost mount at a path wins, as in the container
		}
		return m
	}
	mine, theirs := flags(rtOut), flags(otherOut)
	for path, want := range theirs {
		for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
			if want[o] && !mine[path][o] {
				t.Errorf("mount %s: %s has %s, rt does not", path, other, o)
			}
		}
	}
}

// mountFlags keeps, for each mount, the flags a config asks for (ro,
// nosuid, nodev, noexec); the atime flavour and the like are the kernel's
// defaults and differ between runtimes' mount calls without meaning.
func mountFlags(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "mount:" {
			continue
		}
		var keep []string
		for _, o := range strings.Split(f[3], ",") {
			switch o {
			case "ro", "rw", "nosuid", "nodev", "noexec":
				keep = append(keep, o)
			}
		}
		lines = append(lines, f[1]+" "+strings.Join(keep, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// lineDiff lists the lines only one side has.
func lineDiff(a, b, an, bn string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "only "+an+": "+l)
		case n < 0:
			out = append(out, "only "+bn+": "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// checkProbe checks, without another runtime, what each config asks for.
func checkProbe(t *testing.T, name string, cfg map[string]any, out string) {
	t.Helper()
	want := []string{"CapAmb:\t0000000000000000"}
	if ro, _ := obj(cfg, "root")["readonly"].(bool); ro {
		want = append(want, "mount: / ")
	}
	switch {
	case strings.HasPrefix(name, "podman"):
		// tmpcopyup: /etc is a tmpfs holding the image's files.
		want = append(want, "mount: /etc tmpfs", "mount: /x tmpfs", "etc: group hostname hosts passwd", "pids.max: 2048", "umask: 0022", "groups=0(root),10")
		rl := obj(cfg, "process")["rlimits"].([]any)[0].(map[string]any)
		want = append(want, fmt.Sprintf("nofile: %.0f %.0f", rl["soft"], rl["hard"]))
	case name == "containerd-ctr-run":
		want = append(want, "mount: /run tmpfs", "NoNewPrivs:\t1", "mount: /proc/keys ", "nofile: 1024 1024")
	case name == "containerd-cri":
		want = append(want, "mount: /var/run/secrets/kubernetes.io/serviceaccount ", "oom_score_adj: 1000", "groups=0(root),10", "mount: /proc/keys ")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in\n%s", name, w, out)
		}
	}
}
