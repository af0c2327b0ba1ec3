// Package integration holds rt's end-to-end tests in Go: they run the real rt
// binary, as root, on real bundles (namespaces, mounts, cgroups are real).
// The CLI contract tests in bats live in ../tests.
package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	rtOnce sync.Once
	rtPath string
	rtErr  error
)

// repoRoot is the checkout holding this package, or $RT_REPO_ROOT (the
// cgroup v2 guest of tests/vm, where the test binary runs without the source).
func repoRoot() string {
	if d := os.Getenv("RT_REPO_ROOT"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// rtBin returns $RT_BINARY, or builds rt once for the whole test binary.
func rtBin(t testing.TB) string {
	t.Helper()
	rtOnce.Do(func() {
		if p := os.Getenv("RT_BINARY"); p != "" {
			rtPath = p
			return
		}
		dir, err := os.MkdirTemp("", "rt-test-bin-")
		if err != nil {
			rtErr = err
			return
		}
		rtPath = filepath.Join(dir, "rt")
		cmd := exec.Command("go", "build", "-tags", "seccomp urfave_cli_no_docs", "-o", rtPath, ".")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			rtErr = fmt.Errorf("build rt: %v\n%s", err, out)
		}
	})
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rtPath
}

// timeScale is $RT_TEST_TIME_SCALE (default 1): how many times longer to
// wait for things, on a slow machine (the emulated cgroup v2 guest of
// tests/vm sets it).
func timeScale() int {
	if n, err := strconv.Atoi(os.Getenv("RT_TEST_TIME_SCALE")); err == nil && n > 1 {
		return n
	}
	return 1
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs real containers")
	}
}

// env is one test's private world: its own --root and bundle directory.
type env struct {
	t    testing.TB
	root string
	dir  string
}

// newEnv makes a private state root (rt-test-<pid>-...) and removes, at the
// end, every container the test left behind, by `delete --force`.
func newEnv(t testing.TB) *env {
	t.Helper()
	requireRoot(t)
	dir, err := os.MkdirTemp("", fmt.Sprintf("rt-test-%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: filepath.Join(dir, "state"), dir: dir}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(e.root)
		for _, ent := range entries {
			_, _, _ = e.rt("delete", "--force", ent.Name())
		}
		os.RemoveAll(dir)
	})
	return e
}

// bundle makes a busybox bundle running args and returns its directory.
// edit, if set, changes the config before it is written back.
func (e *env) bundle(name string, edit func(map[string]any), args ...string) string {
	e.t.Helper()
	b := filepath.Join(e.dir, name)
	cmd := exec.Command(filepath.Join(repoRoot(), "tests/lib/mkbundle.sh"), append([]string{b}, args...)...)
	cmd.Env = append(os.Environ(), "RT="+rtBin(e.t))
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("mkbundle: %v\n%s", err, out)
	}
	if edit != nil {
		e.editConfig(b, edit)
	}
	return b
}

func (e *env) editConfig(bundle string, edit func(map[string]any)) {
	e.t.Helper()
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		e.t.Fatal(err)
	}
	edit(cfg)
	data, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// rt runs the binary with this env's --root; returns stdout, stderr, exit code.
func (e *env) rt(args ...string) (string, string, int) {
	return e.rtIn("", nil, args...)
}

func (e *env) rtIn(dir string, stdin *os.File, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(rtBin(e.t), append([]string{"--root", e.root}, args...)...)
	cmd.Dir = dir
	// Files, not pipes: a detached container inherits rt's stdio and would
	// hold a pipe open forever (runc behaves the same, see runc #1721).
	outf, errf := e.tempFile(), e.tempFile()
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	if stdin != nil {
		cmd.Stdin = stdin
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("rt %v: %v", args, err)
	}
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	return string(out), string(errb), code
}

func (e *env) tempFile() *os.File {
	e.t.Helper()
	f, err := os.CreateTemp(e.dir, "out-")
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// mustRT fails the test unless rt exits 0.
func (e *env) mustRT(args ...string) string {
	e.t.Helper()
	out, errs, code := e.rt(args...)
	if code != 0 {
		e.t.Fatalf("rt %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// state returns the parsed `rt state ID`.
func (e *env) state(id string) map[string]any {
	e.t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(e.mustRT("state", id)), &st); err != nil {
		e.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// obj returns m[key] as an object, creating it when missing.
func obj(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}
