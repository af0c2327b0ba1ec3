package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cpusAllowed is the Cpus_allowed_list line of a /proc/<pid>/status.
var cpusAllowed = regexp.MustCompile(`Cpus_allowed_list:\s*(\S+)`)

// pinnedRT runs rt pinned to CPU 0 (taskset), as runc's cpu_affinity.bats
// does, and returns its combined output.
func (e *env) pinnedRT(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("taskset", append([]string{"-c", "0", rtBin(t), "--root", e.root}, args...)...)
	// A file, not a pipe: a detached container would hold a pipe open.
	f := e.tempFile()
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err := cmd.Run()
	out, _ := os.ReadFile(f.Name())
	if err != nil {
		t.Fatalf("taskset rt %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// The container's processes do not inherit rt's own CPU affinity: all
// CPUs (within the cgroup's cpuset) for run and exec; an exec's
// process.execCPUAffinity.final pins it; a bad list is refused naming
// the field.
func TestCPUAffinity(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset not installed")
	}
	m := cpusAllowed.FindStringSubmatch(readFile(t, "/proc/self/status"))
	if m == nil || m[1] == "0" {
		t.Skip("needs at least two CPUs to run on")
	}
	all := m[1]
	e := newEnv(t)
	b := e.bundle("b", nil, "grep", "Cpus_allowed_list:", "/proc/self/status")
	out := e.pinnedRT(t, "run", "-b", b, "affrun")
	if got := cpusAllowed.FindStringSubmatch(out); got == nil || got[1] != all {
		t.Fatalf("run pinned to CPU 0: the container got %q, want %s", out, all)
	}

	e.editConfig(b, func(c map[string]any) { obj(c, "process")["args"] = []string{"sleep", "30"} })
	e.pinnedRT(t, "run", "-d", "-b", b, "affexec")
	out = e.pinnedRT(t, "exec", "affexec", "grep", "Cpus_allowed_list:", "/proc/self/status")
	if got := cpusAllowed.FindStringSubmatch(out); got == nil || got[1] != all {
		t.Fatalf("exec pinned to CPU 0: the process got %q, want %s", out, all)
	}

	proc := map[string]any{
		"args": []string{"grep", "Cpus_allowed_list:", "/proc/self/status"}, "cwd": "/",
		"execCPUAffinity": map[string]string{"initial": "0", "final": "1"},
	}
	pf := filepath.Join(e.dir, "process.json")
	data, _ := json.Marshal(proc)
	os.WriteFile(pf, data, 0o644)
	out = e.mustRT("exec", "-p", pf, "affexec")
	if got := cpusAllowed.FindStringSubmatch(out); got == nil || got[1] != "1" {
		t.Fatalf("execCPUAffinity.final 1: the process got %q", out)
	}

	proc["execCPUAffinity"] = map[string]string{"initial": "0-x"}
	data, _ = json.Marshal(proc)
	os.WriteFile(pf, data, 0o644)
	_, errs, code := e.rt("exec", "-p", pf, "affexec")
	if code != 255 || !strings.Contains(errs, "process.execCPUAffinity.initial") {
		t.Fatalf("a bad list: exit %d, stderr %q", code, errs)
	}
}
