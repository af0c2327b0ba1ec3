package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTestContainer makes <root>/<id> as Create does, with a state whose
// created time is created, and releases it.
func newTestContainer(t *testing.T, root, id string, created time.Time) {
	t.Helper()
	f, err := makeContainerDir(root, id)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &Container{dir: filepath.Join(root, id), dirf: f, locked: true, state: State{ID: id, Created: created}}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
}

func TestLockFollowsTheContainerLookedUp(t *testing.T) {
	root := t.TempDir()
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC)
	newTestContainer(t, root, "a", t1)
	same, err := Load(root, "a")
	if err != nil {
		t.Fatal(err)
	}
	old, err := Load(root, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := same.Lock(); err != nil {
		t.Fatalf("lock of the container as it is: %v", err)
	}
	same.Unlock()
	// Replace "a" by a new container with the same ID.
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	newTestContainer(t, root, "a", t1.Add(time.Second))
	if err := old.Lock(); !errors.Is(err, ErrNotExist) {
		t.Fatalf("lock of a container replaced meanwhile: %v, want ErrNotExist", err)
	}
	if old.locked {
		t.Fatal("failed Lock left the lock held")
	}
	// Gone altogether.
	cur, err := Load(root, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if err := cur.Lock(); !errors.Is(err, ErrNotExist) {
		t.Fatalf("lock of a deleted container: %v, want ErrNotExist", err)
	}
}

func TestSameContainer(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		a, b State
		want bool
	}{
		{State{}, State{Created: t1, Pid: 5}, true},                          // looked up before state.json
		{State{Created: t1}, State{}, true},                                  // state.json removed by a killed delete
		{State{Created: t1}, State{Created: t1, Pid: 7, StartTime: 3}, true}, // init appeared
		{State{Created: t1, Pid: 7, StartTime: 3}, State{Created: t1, Pid: 7, StartTime: 3}, true},
		{State{Created: t1}, State{Created: t1.Add(1)}, false},
		{State{Created: t1, Pid: 7, StartTime: 3}, State{Created: t1, Pid: 8, StartTime: 3}, false},
	} {
		if got := sameContainer(&tc.a, &tc.b); got != tc.want {
			t.Errorf("sameContainer(%+v, %+v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestMakeContainerDir(t *testing.T) {
	root := t.TempDir()
	f, err := makeContainerDir(root, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// It appears locked.
	probe, err := os.Open(filepath.Join(root, "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := unix.Flock(int(probe.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Fatalf("new container dir not locked: %v", err)
	}
	if _, err := makeContainerDir(root, "x"); !errors.Is(err, ErrExist) {
		t.Fatalf("duplicate: %v, want ErrExist", err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, creatingPrefix+"*")); len(left) > 0 {
		t.Fatalf("temporary dirs left: %v", left)
	}
}

// A container without an init is creating while its creator holds the
// lock, and stopped once the lock is free (the creator is gone).
func TestStatusWithoutInit(t *testing.T) {
	root := t.TempDir()
	f, err := makeContainerDir(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st != Creating {
		t.Fatalf("creator holds the lock: %s, want creating", st)
	}
	f.Close() // the creator dies
	if st := c.Status(); st != Stopped {
		t.Fatalf("creator gone: %s, want stopped", st)
	}
	if err := c.Lock(); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st != Stopped {
		t.Fatalf("locked by us: %s, want stopped", st)
	}
	c.Unlock()
}

func TestRemoveStaleCreating(t *testing.T) {
	root := t.TempDir()
	start, _, err := procStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(root, fmt.Sprintf("%s%d-%d-1", creatingPrefix, os.Getpid(), start))
	dead := filepath.Join(root, fmt.Sprintf("%s%d-%d-2", creatingPrefix, os.Getpid(), start+1))
	for _, d := range []string{live, dead} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	RemoveStaleCreating(root)
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("a running create's dir was removed: %v", err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a dead create's dir is left: %v", err)
	}
}
