package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain fails the run if a cgroup this test binary's containers made is
// left behind. It judges only its own: rt marks every cgroup it creates
// with the container's state directory (trusted.rt.owner), and every state
// directory of this run is under rt-test-<pid>-*, so other rt containers on
// the host (a user's, another test run's) never fail the suite.
func TestMain(m *testing.M) {
	code := m.Run()
	// Users, ranges and files rootless_test.go made, last made first.
	for i := len(rootlessCleanup) - 1; i >= 0; i-- {
		rootlessCleanup[i]()
	}
	for _, p := range ourCgroups() {
		fmt.Fprintf(os.Stderr, "cgroup left behind by the tests: %s\n", p)
		code = 1
	}
	for _, p := range ourMounts() {
		fmt.Fprintf(os.Stderr, "mount left behind by the tests: %s\n", p)
		code = 1
	}
	os.Exit(code)
}

// ourMounts lists the mounts under this run's rt-test-<pid>-* directories
// (rt run --image's overlays among them).
func ourMounts() []string {
	prefix := filepath.Join(os.TempDir(), fmt.Sprintf("rt-test-%d-", os.Getpid()))
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], prefix) {
			out = append(out, f[4])
		}
	}
	return out
}

func ourCgroups() []string {
	prefix := filepath.Join(os.TempDir(), fmt.Sprintf("rt-test-%d-", os.Getpid()))
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/rt")
	roots = append(roots, "/sys/fs/cgroup/rt")
	buf := make([]byte, 4096)
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if n, err := unix.Getxattr(p, "trusted.rt.owner", buf); err == nil && strings.HasPrefix(string(buf[:n]), prefix) {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}
