package imagestore

import (
	"os/exec"
	"strings"
	"testing"
)

// The store sits on rootfs/, never on rt's engine or runc.
func TestStandaloneDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"opencontainers/runc", "rt-project/rt/libcontainer", "godbus", "sirupsen/logrus", "seccomp"} {
			if strings.Contains(dep, bad) {
				t.Errorf("imagestore depends on %s", dep)
			}
		}
	}
}
