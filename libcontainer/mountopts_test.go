package libcontainer

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	p := parseMountOptions([]string{"nosuid", "noexec", "nodev", "ro", "rw", "rbind", "rslave", "mode=755", "size=65536k"})
	if want := uintptr(unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_BIND | unix.MS_REC); p.flags != want {
		t.Errorf("flags %#x, want %#x (rw after ro clears it)", p.flags, want)
	}
	if len(p.propagation) != 1 || p.propagation[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("propagation %v", p.propagation)
	}
	if p.data != "mode=755,size=65536k" {
		t.Errorf("data %q", p.data)
	}
	p = parseMountOptions([]string{"rro", "rnosuid", "rnoexec", "rexec", "rsymfollow", "rrelatime", "nosymfollow"})
	if p.recSet != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RELATIME || p.recClr != unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_NOSYMFOLLOW|unix.MOUNT_ATTR__ATIME {
		t.Errorf("recursive options: set %#x clear %#x", p.recSet, p.recClr)
	}
	// An access-time option clears every atime bit, as mount_setattr(2)
	// requires (runc's mounts_recursive.bats "rbind,r*atime").
	for opt, set := range map[string]uint64{"ratime": 0, "rnoatime": unix.MOUNT_ATTR_NOATIME, "rstrictatime": unix.MOUNT_ATTR_STRICTATIME,
		"rnostrictatime": 0, "rrelatime": 0, "rnorelatime": 0} {
		p := parseMountOptions([]string{"rbind", opt})
		if p.recSet != set || p.recClr&unix.MOUNT_ATTR__ATIME != unix.MOUNT_ATTR__ATIME {
			t.Errorf("%s: set %#x clear %#x, want set %#x and all of MOUNT_ATTR__ATIME cleared", opt, p.recSet, p.recClr, set)
		}
	}
	if p.flags != unix.MS_NOSYMFOLLOW || p.data != "" {
		t.Errorf("recursive options reach mount(2): flags %#x data %q", p.flags, p.data)
	}
}

func TestTmpcopyupOption(t *testing.T) {
	if p := parseMountOptions([]string{"tmpcopyup", "nosuid", "mode=755"}); !p.copyUp || p.data != "mode=755" {
		t.Errorf("tmpcopyup: %+v", p)
	}
	if err := checkMountOptions("tmpfs", []string{"tmpcopyup"}); err != nil {
		t.Errorf("tmpfs: %v", err)
	}
	if err := checkMountOptions("bind", []string{"tmpcopyup"}); err == nil {
		t.Error("tmpcopyup on a bind mount accepted")
	}
}
