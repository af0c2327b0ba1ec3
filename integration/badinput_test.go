package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bad config.json: one clear line naming the file and field, non-zero exit,
// and nothing left behind (no state dir, no cgroup).
func TestBadConfig(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		edit  func(b string)
		wants []string
	}{
		{"invalid json", func(b string) {
			os.WriteFile(filepath.Join(b, "config.json"), []byte("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {,\n}\n"), 0o644)
		}, []string{"config.json", "line 3:"}},
		{"no args", func(b string) {
			e.editConfig(b, func(c map[string]any) { obj(c, "process")["args"] = []string{} })
		}, []string{"config.json", "process.args"}},
		{"missing rootfs", func(b string) { os.RemoveAll(filepath.Join(b, "rootfs")) }, []string{"root.path"}},
		{"unknown namespace", func(b string) {
			e.editConfig(b, func(c map[string]any) {
				l := obj(c, "linux")
				l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "bogus"})
			})
		}, []string{"linux.namespaces", "bogus"}},
		// A relative one is deprecated but taken as relative to "/"
		// (runtime-spec 1.1, runc): TestRelativeMountDestination.
		{"empty mount destination", func(b string) {
			e.editConfig(b, func(c map[string]any) {
				c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "", "type": "tmpfs", "source": "tmpfs"})
			})
		}, []string{"mounts[", "destination"}},
		{"wrong type", func(b string) {
			e.editConfig(b, func(c map[string]any) { obj(c, "process")["args"] = "sh" })
		}, []string{"config.json", "process.args"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.bundle("bad"+itoa(i), nil, "true")
			tc.edit(b)
			out, errs, code := e.rtIn(b, nil, "run", "bad"+itoa(i))
			if code == 0 {
				t.Fatalf("exit 0, want failure; stdout %q", out)
			}
			if lines := strings.Count(strings.TrimSpace(errs), "\n"); lines != 0 {
				t.Errorf("error is not one line: %q", errs)
			}
			for _, w := range tc.wants {
				if !strings.Contains(errs, w) {
					t.Errorf("error %q does not mention %q", errs, w)
				}
			}
			if _, err := os.Stat(filepath.Join(e.root, "bad"+itoa(i))); err == nil {
				t.Error("state dir left behind")
			}
			if m, _ := filepath.Glob("/sys/fs/cgroup/*/rt/bad" + itoa(i)); len(m) > 0 {
				t.Errorf("cgroup left behind: %v", m)
			}
		})
	}
}

// A failure inside the init (here: the executable does not exist) reaches
// the user as one line, and create leaves nothing.
func TestInitErrorIsReported(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "/no/such/binary")
	_, errs, code := e.rtIn(b, nil, "create", "noexec")
	if code == 0 || !strings.Contains(errs, "/no/such/binary") || !strings.Contains(errs, "no such file") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(e.root, "noexec")); err == nil {
		t.Fatal("state dir left behind")
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/rt/noexec"); len(m) > 0 {
		t.Fatalf("cgroup left behind: %v", m)
	}
}

// kill -9 of rt while the container runs: `delete --force` still cleans
// everything (process, cgroup, state).
func TestDeleteForceAfterRTKilled(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "60")
	cmd := exec.Command(rtBin(t), "--root", e.root, "run", "-b", b, "orphan")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, "orphan", "running")
	pid := int(e.state("orphan")["pid"].(float64))
	cmd.Process.Kill()
	cmd.Wait()
	e.mustRT("delete", "--force", "orphan")
	assertGone(t, e, "orphan", pid)
}

// kill -9 of rt in the middle of create (during a createRuntime hook).
func TestDeleteForceAfterCrashInCreate(t *testing.T) {
	e := newEnv(t)
	marker := filepath.Join(e.dir, "hook-ran")
	b := e.bundle("b", func(c map[string]any) {
		obj(c, "hooks")["createRuntime"] = []map[string]any{{
			"path": "/bin/sh", "args": []string{"sh", "-c", "touch " + marker + "; sleep 30"},
		}}
	}, "true")
	cmd := exec.Command(rtBin(t), "--root", e.root, "create", "-b", b, "halfway")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := os.Stat(marker); return err == nil })
	// Kill rt and its hook (same process group), as a crash would.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	e.mustRT("delete", "--force", "halfway")
	assertGone(t, e, "halfway", 0)
}

func assertGone(t *testing.T, e *env, id string, pid int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); err == nil {
		t.Error("state dir left")
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/rt/" + id); len(m) > 0 {
		t.Errorf("cgroup left: %v", m)
	}
	if pid > 0 {
		for i := 0; i < 100; i++ {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			if st, _ := os.ReadFile("/proc/" + itoa(pid) + "/stat"); strings.Contains(string(st), ") Z") {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("container process %d still alive", pid)
	}
}

// checkpoint and restore (runc's CRIU commands) are not rt's: with any of
// runc's flags they fail in one line saying so, and their help says it too
// (runc's help.bats asks every runc command for -h).
func TestCheckpointRestoreNotSupported(t *testing.T) {
	e := newEnv(t)
	for _, cmd := range []string{"checkpoint", "restore"} {
		out, errs, code := e.rt(cmd, "--image-path", e.dir, "--leave-running", "c1")
		if code != 1 || out != "" || errs != "rt: "+cmd+": not supported: rt has no checkpoint/restore (CRIU)\n" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", cmd, code, out, errs)
		}
		out, _, code = e.rt(cmd, "-h")
		if code != 0 || !strings.Contains(out, "rt "+cmd+" - ") || !strings.Contains(out, "not supported") {
			t.Fatalf("%s -h: exit %d, stdout %q", cmd, code, out)
		}
	}
	if out, _, _ := e.rt("--help"); strings.Contains(out, "checkpoint") {
		t.Fatalf("rt --help lists checkpoint:\n%s", out)
	}
}
