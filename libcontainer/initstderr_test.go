package libcontainer

import (
	"os"
	"testing"
)

func TestStderrRelay(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	saved := Warn
	Warn = func(msg string) { warnings = append(warnings, msg) }
	defer func() { Warn = saved }()
	relay := newStderrRelay(r)
	w.WriteString("rt: warning: process.capabilities.ambient: CAP_KILL not in both permitted and inheritable; not raised\n")
	w.WriteString("\nruntime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort\nPC=0x1 m=0 sigcode=0\n")
	w.Close()
	relay.wait()
	if len(warnings) != 1 || warnings[0] != "process.capabilities.ambient: CAP_KILL not in both permitted and inheritable; not raised" {
		t.Errorf("warnings %q", warnings)
	}
	if got := relay.crashLine(); got != "runtime/cgo: pthread_create failed: Resource temporarily unavailable" {
		t.Errorf("crash line %q", got)
	}
}
