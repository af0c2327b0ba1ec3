package libcontainer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rt-project/rt/libcontainer/specconv"
)

// writeBundle writes spec (or raw JSON) to a temp bundle with a rootfs dir.
func writeBundle(t *testing.T, spec *specs.Spec, raw string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte(raw)
	if spec != nil {
		data, _ = json.MarshalIndent(spec, "", "  ")
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadSpecDefaultIsValid(t *testing.T) {
	if _, err := LoadSpec(writeBundle(t, specconv.Default(false), "")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSpec(writeBundle(t, specconv.Default(true), "")); err != nil {
		t.Fatalf("rootless default: %v", err)
	}
}

func TestLoadSpecJSONErrorsNameLineAndColumn(t *testing.T) {
	_, err := LoadSpec(writeBundle(t, nil, "{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {,\n}"))
	if err == nil || !strings.Contains(err.Error(), "config.json: line 3:15") {
		t.Fatalf("got %v", err)
	}
	_, err = LoadSpec(writeBundle(t, nil, `{"process": {"args": "sh"}}`))
	if err == nil || !strings.Contains(err.Error(), "field process.args") {
		t.Fatalf("type error: %v", err)
	}
}

func TestValidateSpecNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		edit func(s *specs.Spec)
		want string
	}{
		{func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{func(s *specs.Spec) { s.Process.Cwd = "rel" }, "process.cwd"},
		{func(s *specs.Spec) { s.Root.Path = "missing" }, "root.path"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `linux.namespaces[`},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "duplicate namespace"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces[:0:0], specs.LinuxNamespace{Type: specs.MountNamespace})
		}, "hostname"},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "rel/x"}) }, "destination"},
		{func(s *specs.Spec) { s.Mounts[0].Options = []string{"idmap"} }, "id-mapped"},
		{func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOPE"}} }, "process.rlimits[0]"},
		{func(s *specs.Spec) { s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}} }, "linux.uidMappings"},
		{func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"../x": "1"} }, "linux.sysctl"},
		{func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, "linux.rootfsPropagation"},
		{func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}
		}, "linux.devices[0].type"},
		{func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOTIFY"}
		}, "linux.seccomp"},
	} {
		s := specconv.Default(false)
		tc.edit(s)
		err := ValidateSpec(s, writeBundle(t, nil, "{}"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %q, got %v", tc.want, err)
		}
	}
}

func TestValidateSpecAllowsWhatRuncAllows(t *testing.T) {
	bundle := writeBundle(t, nil, "{}")
	s := specconv.Default(false)
	s.Process = nil // optional at create
	if err := ValidateSpec(s, bundle); err != nil {
		t.Errorf("no process: %v", err)
	}
	s = specconv.Default(false)
	s.Linux.Namespaces = nil // all of the host's, as runc
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Hostname = nil, nil, ""
	if err := ValidateSpec(s, bundle); err != nil {
		t.Errorf("no namespaces: %v", err)
	}
	s = specconv.Default(false)
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.UTSNamespace {
			s.Linux.Namespaces[i].Path = "/proc/self/ns/uts"
		}
	}
	if err := ValidateSpec(s, bundle); err != nil {
		t.Errorf("hostname in a joined uts namespace: %v", err)
	}
	// An unknown capability is ignored with a warning (runc).
	var warnings []string
	saved := Warn
	Warn = func(msg string) { warnings = append(warnings, msg) }
	defer func() { Warn = saved }()
	s = specconv.Default(false)
	s.Process.Capabilities.Bounding = []string{"CAP_NOPE", "CAP_KILL", "NOPE"}
	if err := ValidateSpec(s, bundle); err != nil {
		t.Errorf("unknown capability: %v", err)
	}
	if want := `process.capabilities.bounding: ignoring unknown capabilities "CAP_NOPE", "NOPE"`; len(warnings) != 1 || warnings[0] != want {
		t.Errorf("warnings %q, want [%q]", warnings, want)
	}
}

func TestBootstrapData(t *testing.T) {
	s := specconv.Default(false)
	s.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.UserNamespace, Path: "/proc/1/ns/user"},
		{Type: specs.PIDNamespace},
		{Type: specs.MountNamespace},
	}
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 5, Nanosecs: 7}}
	got := string(bootstrapData(s))
	want := "join 268435456 /proc/1/ns/user\nclone 537001984\ntimens\n"
	if got != want {
		t.Fatalf("bootstrap %q, want %q", got, want)
	}
}

// Hostile configs are refused at validation, naming the field.
func TestValidateRefusesHostileConfigs(t *testing.T) {
	cases := map[string]struct {
		edit func(s *specs.Spec)
		want string
	}{
		"relative hook": {func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}, {Path: "true"}}}
		}, `hooks.poststart[1].path: "true" is not an absolute path`},
		"NUL in args": {func(s *specs.Spec) { s.Process.Args = []string{"echo", "a\x00b"} }, "process.args[1]: contains a NUL byte"},
		"NUL in env":  {func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "X=a\x00b") }, "contains a NUL byte"},
		"host sysctl": {func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/evil"} }, `linux.sysctl "kernel.core_pattern": not in a namespace`},
		"net sysctl in host netns": {func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.NetworkNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "needs a network namespace"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := specconv.Default(false)
			c.edit(s)
			_, err := LoadSpec(writeBundle(t, s, ""))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
		})
	}
	s := specconv.Default(false)
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"}
	if _, err := LoadSpec(writeBundle(t, s, "")); err != nil {
		t.Fatalf("namespaced sysctls: %v", err)
	}
}

func TestCheckOCIVersion(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.0.2-dev", "1.2.0-rc.1", "1.3.0", "1.0.0+build.5", "1.10.20"} {
		if err := checkOCIVersion(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"", "invalid", "2.0.0", "0.9.0", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.0-", "1.0.0-01", "1.0.0+", "v1.0.0", "1.0.0-a..b"} {
		if err := checkOCIVersion(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
	s := specconv.Default(false)
	s.Version = "2.0.0"
	if _, err := LoadSpec(writeBundle(t, s, "")); err == nil || !strings.Contains(err.Error(), "ociVersion: ") {
		t.Fatalf("2.0.0: %v", err)
	}
}

// A relative mount destination is taken relative to "/" with one warning,
// as runtime-spec 1.1 and runc do; an empty one is still refused.
func TestRelativeMountDestination(t *testing.T) {
	var warned []string
	old := Warn
	Warn = func(msg string) { warned = append(warned, msg) }
	defer func() { Warn = old }()
	s := specconv.Default(false)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "tmp/mount-1", Type: "tmpfs", Source: "tmpfs"})
	got, err := LoadSpec(writeBundle(t, s, ""))
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Mounts[len(got.Mounts)-1].Destination; d != "/tmp/mount-1" {
		t.Fatalf("destination %q, want /tmp/mount-1", d)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "mounts[") || !strings.Contains(warned[0], "relative") {
		t.Fatalf("warnings: %q", warned)
	}
	s.Mounts[len(s.Mounts)-1].Destination = ""
	if _, err := LoadSpec(writeBundle(t, s, "")); err == nil || !strings.Contains(err.Error(), ".destination") {
		t.Fatalf("empty destination: %v", err)
	}
}
