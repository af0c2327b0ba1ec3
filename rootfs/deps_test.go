package rootfs

import (
	"os/exec"
	"strings"
	"testing"
)

// The converter stands alone: runtime-spec, image-spec and archive and
// path libraries, never runc or rt's engine (and what they pull in: dbus,
// logrus, libseccomp).
func TestStandaloneDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"opencontainers/runc", "rt-project/rt/libcontainer", "godbus", "sirupsen/logrus", "seccomp"} {
			if strings.Contains(dep, bad) {
				t.Errorf("rootfs depends on %s", dep)
			}
		}
	}
}
