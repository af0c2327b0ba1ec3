package libcontainer

import (
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The lifecycle table: which operation each status allows.
func TestLifecyclePredicates(t *testing.T) {
	all := []Status{Creating, Created, Running, Paused, Stopped}
	allowed := map[string][]Status{
		"start":        {Created},
		"signal":       {Created, Running, Paused},
		"delete":       {Creating, Created, Stopped},
		"delete-force": all,
		"exec":         {Created, Running},
		"exec-paused":  {Created, Running, Paused},
		"pause":        {Created, Running},
		"resume":       {Paused},
		"ps":           {Creating, Created, Running, Paused},
		"update":       {Created, Running, Paused},
	}
	check := map[string]func(Status) error{
		"start":        Status.CanStart,
		"signal":       Status.CanSignal,
		"delete":       func(s Status) error { return s.CanDelete("c1", false) },
		"delete-force": func(s Status) error { return s.CanDelete("c1", true) },
		"exec":         func(s Status) error { return s.CanExec(false) },
		"exec-paused":  func(s Status) error { return s.CanExec(true) },
		"pause":        Status.CanPause,
		"resume":       Status.CanResume,
		"ps":           Status.HasProcesses,
		"update":       Status.CanUpdate,
	}
	for op, ok := range allowed {
		for _, s := range all {
			want := false
			for _, a := range ok {
				want = want || a == s
			}
			if err := check[op](s); (err == nil) != want {
				t.Errorf("%s in %s: err %v, want allowed=%v", op, s, err, want)
			}
		}
	}
	// Texts callers match.
	if err := Running.CanDelete("c1", false); !strings.Contains(err.Error(), "cannot delete container c1 that is not stopped: running") {
		t.Errorf("delete text: %v", err)
	}
	if err := Paused.CanExec(false); !strings.Contains(err.Error(), "use --ignore-paused") {
		t.Errorf("exec text: %v", err)
	}
	if err := Stopped.CanSignal(); err != ErrNotRunning {
		t.Errorf("signal: %v", err)
	}
}

// An update records every resource it sets (rdma was once dropped), and
// never devices.
func TestMergeResourcesEveryField(t *testing.T) {
	max := int64(5)
	upd := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: true}},
		Pids:    &specs.LinuxPids{Limit: &max},
		Rdma:    map[string]specs.LinuxRdma{"mlx5_0": {}},
		Unified: map[string]string{"memory.high": "1M"},
	}
	cur := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	got := mergeResources(cur, upd)
	if got.Pids == nil || got.Rdma == nil || got.Unified == nil {
		t.Fatalf("update not recorded: %+v", got)
	}
	if len(got.Devices) != 1 || got.Devices[0].Allow {
		t.Fatalf("devices changed by an update: %+v", got.Devices)
	}
}
