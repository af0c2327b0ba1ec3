package rootfs

import (
	"os"
	"slices"
	"strings"
	"testing"

	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func specRootfs(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(dir+"/etc", 0o755)
	os.WriteFile(dir+"/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(dir+"/etc/group", []byte("root:x:0:\napp:x:1001:\nwheel:x:10:app\nstaff:x:50:\n"), 0o644)
	return dir
}

func TestRuntimeSpecUser(t *testing.T) {
	dir := specRootfs(t)
	for user, want := range map[string]specs.User{
		"":          {UID: 0, GID: 0, AdditionalGids: []uint32{0}},
		"app":       {UID: 1000, GID: 1001, AdditionalGids: []uint32{1001, 10}},
		"1000":      {UID: 1000, GID: 1001, AdditionalGids: []uint32{1001, 10}},
		"app:staff": {UID: 1000, GID: 50, AdditionalGids: []uint32{50}},
		"1234:5678": {UID: 1234, GID: 5678, AdditionalGids: []uint32{5678}},
		"app:5678":  {UID: 1000, GID: 5678, AdditionalGids: []uint32{5678}},
	} {
		cfg := &ispec.Image{}
		cfg.Config.User = user
		s, err := RuntimeSpec(dir, cfg, SpecOptions{})
		if err != nil {
			t.Errorf("User %q: %v", user, err)
			continue
		}
		if got := s.Process.User; got.UID != want.UID || got.GID != want.GID || !slices.Equal(got.AdditionalGids, want.AdditionalGids) {
			t.Errorf("User %q: %+v, want %+v", user, got, want)
		}
	}
	cfg := &ispec.Image{}
	cfg.Config.User = "nobody"
	if _, err := RuntimeSpec(dir, cfg, SpecOptions{}); err == nil {
		t.Error("an unknown user name must fail")
	}
}

// The rootfs's /etc/passwd is read inside the rootfs: a symlink out of it
// resolves inside, a fifo is not read (it would block).
func TestRuntimeSpecHostilePasswd(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir+"/etc", 0o755)
	os.MkdirAll(dir+"/host/etc", 0o755)
	os.WriteFile(dir+"/host/etc/passwd", []byte("evil:x:4242:4242::/:/bin/sh\n"), 0o644)
	os.Symlink("../../../../../../host/etc/passwd", dir+"/etc/passwd")
	unix.Mkfifo(dir+"/etc/group", 0o644)
	cfg := &ispec.Image{}
	cfg.Config.User = "evil"
	s, err := RuntimeSpec(dir, cfg, SpecOptions{})
	if err != nil || s.Process.User.UID != 4242 {
		t.Fatalf("passwd via an in-root symlink: %+v, %v", s, err)
	}
	os.Remove(dir + "/etc/passwd")
	os.Symlink("/etc/passwd", dir+"/etc/passwd") // itself, in the root: a loop
	cfg.Config.User = "root"
	if _, err := RuntimeSpec(dir, cfg, SpecOptions{}); err == nil {
		t.Error("user root resolved from the host's /etc/passwd")
	}
}

func TestRuntimeSpec(t *testing.T) {
	dir := specRootfs(t)
	cfg := &ispec.Image{}
	cfg.Config = ispec.ImageConfig{
		Entrypoint: []string{"/entry"},
		Cmd:        []string{"a", "b"},
		Env:        []string{"FOO=bar"},
		WorkingDir: "/srv/app",
		Labels:     map[string]string{"org.example": "x", "empty": ""},
		StopSignal: "SIGQUIT",
	}
	s, err := RuntimeSpec(dir, cfg, SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process
	if !slices.Equal(p.Args, []string{"/entry", "a", "b"}) || p.Cwd != "/srv/app" || p.Terminal || p.NoNewPrivileges {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Env, []string{"FOO=bar", DefaultPath}) {
		t.Errorf("env %q", p.Env)
	}
	if fi, err := os.Stat(dir + "/srv/app"); err != nil || !fi.IsDir() {
		t.Errorf("WorkingDir not created: %v", err)
	}
	if s.Annotations["org.example"] != "x" || s.Annotations["empty"] != "" || s.Annotations[StopSignalAnnotation] != "SIGQUIT" || len(s.Annotations) != 3 {
		t.Errorf("annotations %v", s.Annotations)
	}
	if s.Root.Readonly || s.Root.Path != "rootfs" || len(p.Capabilities.Bounding) != 14 || len(p.Capabilities.Ambient) != 0 || len(p.Capabilities.Inheritable) != 0 {
		t.Errorf("root %+v caps %+v", s.Root, p.Capabilities)
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("no network namespace")
	}

	ep := []string{"/bin/sh"}
	s, err = RuntimeSpec(dir, cfg, SpecOptions{Args: []string{"-c", "id"}, Entrypoint: &ep, Terminal: true, HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Process.Args, []string{"/bin/sh", "-c", "id"}) || !s.Process.Terminal || !slices.Contains(s.Process.Env, "TERM=xterm") {
		t.Errorf("overrides: %+v", s.Process)
	}
	if slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("host network: namespace still there")
	}
	n := 0
	for _, m := range s.Mounts {
		if (m.Destination == "/etc/resolv.conf" || m.Destination == "/etc/hosts") && m.Source == m.Destination && slices.Contains(m.Options, "ro") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("host network mounts: %+v", s.Mounts)
	}
	if exists(dir + "/etc/resolv.conf") {
		t.Error("resolv.conf added to the rootfs")
	}

	// Cmd replaced, Entrypoint kept; no PATH in the image gets Docker's.
	s, _ = RuntimeSpec(dir, cfg, SpecOptions{Args: []string{"x"}})
	if !slices.Equal(s.Process.Args, []string{"/entry", "x"}) {
		t.Errorf("args %q", s.Process.Args)
	}
	os.WriteFile(dir+"/file", nil, 0o644)
	cfg.Config.WorkingDir = "/file"
	if _, err := RuntimeSpec(dir, cfg, SpecOptions{}); err == nil {
		t.Error("WorkingDir that is a file must fail")
	}
}

// An image's labels in the namespaces runtimes act on do not become
// annotations: with --systemd-cgroup, org.systemd.property.* would set the
// host's unit properties (say Slice=, out of the limits), and crun reads
// run.oci.*. One warning names them.
func TestRuntimeSpecReservedLabels(t *testing.T) {
	dir := specRootfs(t)
	cfg := &ispec.Image{}
	cfg.Config = ispec.ImageConfig{Cmd: []string{"sh"}, Labels: map[string]string{
		"org.systemd.property.Slice": "'-.slice'", "run.oci.keep_original_groups": "1", "org.example": "x",
	}}
	var warnings []string
	s, err := RuntimeSpec(dir, cfg, SpecOptions{Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Annotations) != 1 || s.Annotations["org.example"] != "x" {
		t.Errorf("annotations %v, want only org.example", s.Annotations)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"org.systemd.property.Slice", "run.oci.keep_original_groups"`) {
		t.Errorf("warnings %q", warnings)
	}
}
