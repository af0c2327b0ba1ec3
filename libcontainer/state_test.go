package libcontainer

import (
	"os"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "c1", "my_container.v2+x-y", strings.Repeat("a", 1024)} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a b", "ä", strings.Repeat("a", 1025)} {
		if err := ValidateID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestInitAliveGuardsPidReuse(t *testing.T) {
	start, zombie, err := procStartTime(os.Getpid())
	if err != nil || zombie || start == 0 {
		t.Fatalf("own start time: %d %v %v", start, zombie, err)
	}
	s := &State{Pid: os.Getpid(), StartTime: start}
	if !s.initAlive() {
		t.Fatal("self not alive")
	}
	s.StartTime++ // same pid, another process
	if s.initAlive() {
		t.Fatal("a reused pid counts as the init")
	}
	if (&State{}).initAlive() {
		t.Fatal("pid 0 alive")
	}
}

func TestInitExiting(t *testing.T) {
	if (&State{Pid: os.Getpid()}).initExiting() {
		t.Error("a running process reads as exiting")
	}
	if (&State{}).initExiting() {
		t.Error("no init reads as exiting")
	}
}
