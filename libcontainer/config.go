package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// LoadSpec reads and validates <bundle>/config.json. Errors name the file and,
// for JSON syntax errors, the line:column.
func LoadSpec(bundle string) (*specs.Spec, error) {
	return LoadSpecWith(bundle, nil)
}

// LoadSpecWith is LoadSpec with edit (the caller's per-container overrides)
// applied between reading and validating; its errors are returned as they are.
func LoadSpecWith(bundle string, edit func(*specs.Spec) error) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var spec specs.Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: %s", path, describeJSONError(data, err))
	}
	if edit != nil {
		if err := edit(&spec); err != nil {
			return nil, err
		}
	}
	// runtime-spec 1.1: a relative mount destination is deprecated and
	// means relative to "/"; runc warns and takes it so (configs written
	// for older tools have them).
	for i := range spec.Mounts {
		if d := spec.Mounts[i].Destination; d != "" && !filepath.IsAbs(d) {
			Warn(fmt.Sprintf("%s: mounts[%d].destination %q is relative (deprecated): taken as %q", path, i, d, "/"+d))
			spec.Mounts[i].Destination = "/" + d
		}
	}
	if err := ValidateSpec(&spec, bundle); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &spec, nil
}

func describeJSONError(data []byte, err error) string {
	var off int64
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
		if typ.Field != "" {
			return fmt.Sprintf("%s: field %s: cannot use %s as %s", lineCol(data, off), typ.Field, typ.Value, typ.Type)
		}
	default:
		return "invalid JSON: " + err.Error()
	}
	return fmt.Sprintf("%s: invalid JSON: %v", lineCol(data, off), err)
}

// lineCol turns encoding/json's offset (bytes read when the error was seen,
// so one past the offending byte) into the 1-based line:column of that byte.
func lineCol(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off > 0 {
		off--
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d:%d", line, col)
}

// ValidateSpec rejects what rt cannot run, before any state is created, so a
// bad config leaves nothing behind. Each error names the field.
func ValidateSpec(s *specs.Spec, bundle string) error {
	if err := checkOCIVersion(s.Version); err != nil {
		return fmt.Errorf("ociVersion: %w", err)
	}
	// process is optional at create (runtime-spec); start then refuses.
	if s.Process != nil {
		if err := validateProcess(s.Process); err != nil {
			return err
		}
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path: missing")
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return fmt.Errorf("root.path: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("root.path: %s is not a directory", rootfs)
	}
	if s.Linux == nil {
		return errors.New("linux: missing (rt runs Linux containers only)")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range s.Linux.Namespaces {
		if _, ok := namespaces[ns.Type]; !ok {
			return fmt.Errorf("linux.namespaces[%d].type: unknown namespace type %q", i, ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces[%d]: duplicate namespace %q", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if !filepath.IsAbs(ns.Path) {
				return fmt.Errorf("linux.namespaces[%d].path: %q is not absolute", i, ns.Path)
			}
			if _, err := os.Stat(ns.Path); err != nil {
				return fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
			}
		}
		if ns.Type == specs.TimeNamespace {
			if _, err := os.Stat("/proc/self/ns/time"); err != nil {
				return fmt.Errorf("linux.namespaces[%d]: time namespaces are not supported by this kernel", i)
			}
		}
	}
	if !seen[specs.MountNamespace] {
		// Without a mount namespace the mounts are made in the host's
		// (below the rootfs only) and removed at delete, as with runc;
		// paths cannot be masked there (runc refuses the same).
		if len(s.Linux.MaskedPaths) > 0 || len(s.Linux.ReadonlyPaths) > 0 {
			return errors.New("linux.maskedPaths/readonlyPaths: need a mount namespace of the container's own")
		}
		if s.Linux.RootfsPropagation != "" {
			return errors.New("linux.rootfsPropagation: needs a mount namespace of the container's own")
		}
	}
	if (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return errors.New("linux.uidMappings: set without a user namespace")
	}
	// A new user namespace without maps has no root, and writing an empty
	// uid_map fails obscurely. runc refuses it too; crun (whose `crun spec
	// --rootless` writes none) maps the caller's own ids instead.
	if hasNewNS(s, specs.UserNamespace) {
		if len(s.Linux.UIDMappings) == 0 {
			return errors.New("linux.uidMappings: a new user namespace needs uid mappings (e.g. `rt spec --rootless` writes the caller's own)")
		}
		if len(s.Linux.GIDMappings) == 0 {
			return errors.New("linux.gidMappings: a new user namespace needs gid mappings")
		}
	}
	// As runc: a private uts namespace, new or joined, may get a hostname.
	if s.Hostname != "" && !hasNS(s, specs.UTSNamespace) {
		return errors.New("hostname: requires a uts namespace")
	}
	if s.Domainname != "" && !hasNS(s, specs.UTSNamespace) {
		return errors.New("domainname: requires a uts namespace")
	}
	if len(s.Linux.TimeOffsets) > 0 && !hasNewNS(s, specs.TimeNamespace) {
		return errors.New("linux.timeOffsets: requires a new time namespace")
	}
	for clock, off := range s.Linux.TimeOffsets {
		// The clocks a time namespace offsets (time_namespaces(7)).
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("linux.timeOffsets: unknown clock %q (monotonic or boottime)", clock)
		}
		if off.Nanosecs >= 1e9 {
			return fmt.Errorf("linux.timeOffsets.%s.nanosecs: %d is not below 1000000000", clock, off.Nanosecs)
		}
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination: %q is not an absolute path", i, m.Destination)
		}
		if err := checkMountOptions(m.Type, m.Options); err != nil {
			return fmt.Errorf("mounts[%d].options: %w", i, err)
		}
		if err := checkIDMapMount(s, i); err != nil {
			return err
		}
	}
	for i, d := range s.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices[%d].path: %q is not absolute", i, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fmt.Errorf("linux.devices[%d].type: unknown device type %q", i, d.Type)
		}
	}
	if s.Linux.RootfsPropagation != "" {
		if _, ok := propagationFlags[s.Linux.RootfsPropagation]; !ok {
			return fmt.Errorf("linux.rootfsPropagation: unknown value %q", s.Linux.RootfsPropagation)
		}
	}
	if _, err := seccompConfig(s.Linux.Seccomp); err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	if err := checkUnsupported(s); err != nil {
		return err
	}
	if err := checkSchedulerCPUs(s); err != nil {
		return err
	}
	for k := range s.Linux.Sysctl {
		if strings.Contains(k, "/") || strings.Contains(k, "..") {
			return fmt.Errorf("linux.sysctl: invalid key %q", k)
		}
		if err := checkSysctlNamespace(s, k); err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", k, err)
		}
	}
	return validateHooks(s.Hooks)
}

// checkSysctlNamespace allows only sysctls that belong to a namespace the
// container has of its own, as runc does: anything else would change the
// host's kernel settings.
func checkSysctlNamespace(s *specs.Spec, k string) error {
	ipc := map[string]bool{"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
		"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true}
	switch {
	case ipc[k] || strings.HasPrefix(k, "fs.mqueue."):
		if !hasNS(s, specs.IPCNamespace) {
			return errors.New("needs an ipc namespace of the container's own")
		}
	case strings.HasPrefix(k, "net."):
		if !hasNS(s, specs.NetworkNamespace) {
			return errors.New("needs a network namespace of the container's own")
		}
	case k == "kernel.domainname":
		if !hasNS(s, specs.UTSNamespace) {
			return errors.New("needs a uts namespace of the container's own")
		}
	case k == "kernel.hostname":
		return errors.New("set the hostname field instead")
	default:
		return errors.New("not in a namespace of the container's: it would change the host")
	}
	return nil
}

// validateHooks: runtime-spec requires absolute hook paths; a relative one
// would be looked up on rt's $PATH.
func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	lists := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated, still honoured
		{"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	}
	for _, l := range lists {
		for i, hk := range l.hooks {
			if !filepath.IsAbs(hk.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not an absolute path", l.name, i, hk.Path)
			}
			if err := noNUL(fmt.Sprintf("hooks.%s[%d]", l.name, i), hk.Args, hk.Env); err != nil {
				return err
			}
		}
	}
	return nil
}

// noNUL refuses NUL bytes in argv and environment strings: execve cannot
// pass them, and the failure would come far from the field at fault.
func noNUL(field string, args, env []string) error {
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%s.args[%d]: contains a NUL byte", field, i)
		}
	}
	for i, e := range env {
		if strings.IndexByte(e, 0) >= 0 {
			return fmt.Errorf("%s.env[%d]: contains a NUL byte", field, i)
		}
	}
	return nil
}

func hasNewNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path == ""
		}
	}
	return false
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// checkUnsupported refuses settings rt cannot honour. Silently running a
// container unconfined, or on other CPUs or priorities than asked, would be
// worse than a clear error. Labels are ignored only where the host has no
// AppArmor or SELinux, as runc does.
func checkUnsupported(s *specs.Spec) error {
	l := s.Linux
	switch {
	case l.IntelRdt != nil:
		return errors.New("linux.intelRdt: not supported")
	case len(l.NetDevices) > 0:
		return errors.New("linux.netDevices: not supported")
	case l.MountLabel != "" && selinuxEnabled():
		return errors.New("linux.mountLabel: SELinux labels are not supported yet")
	}
	if p := s.Process; p != nil {
		switch {
		case p.ApparmorProfile != "" && apparmorEnabled():
			return errors.New("process.apparmorProfile: AppArmor profiles are not supported yet (refusing to run unconfined)")
		case p.SelinuxLabel != "" && selinuxEnabled():
			return errors.New("process.selinuxLabel: SELinux labels are not supported yet")
		}
		if p.IOPriority != nil {
			if _, ok := ioprioClasses[p.IOPriority.Class]; !ok {
				return fmt.Errorf("process.ioPriority.class: unknown class %q", p.IOPriority.Class)
			}
			if p.IOPriority.Priority < 0 || p.IOPriority.Priority > 7 {
				return fmt.Errorf("process.ioPriority.priority: %d is not in 0..7", p.IOPriority.Priority)
			}
		}
	}
	if _, err := parseMemPolicy(l.MemoryPolicy); err != nil {
		return err
	}
	if pers := l.Personality; pers != nil {
		if _, ok := personalities[pers.Domain]; !ok {
			return fmt.Errorf("linux.personality.domain: unknown domain %q", pers.Domain)
		}
		if len(pers.Flags) > 0 {
			return errors.New("linux.personality.flags: not supported")
		}
	}
	return nil
}

func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// validateProcess checks a process of config.json or of `rt exec`.
func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 {
		return errors.New("process.args: must not be empty")
	}
	if err := noNUL("process", p.Args, p.Env); err != nil {
		return err
	}
	if p.Cwd != "" && !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd: %q is not an absolute path", p.Cwd)
	}
	if err := checkScheduler(p.Scheduler); err != nil {
		return err
	}
	// An unknown capability is left out with a warning, as runc does: a
	// config written for a newer kernel or spec still runs, and leaving a
	// capability out only ever grants less.
	if c := p.Capabilities; c != nil {
		for _, set := range []struct {
			field string
			names []string
		}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"permitted", c.Permitted}, {"inheritable", c.Inheritable}, {"ambient", c.Ambient}} {
			var unknown []string
			for _, name := range set.names {
				if _, err := capFromName(name); err != nil {
					unknown = append(unknown, strconv.Quote(name))
				}
			}
			if len(unknown) > 0 {
				warnf("process.capabilities.%s: ignoring unknown capabilities %s", set.field, strings.Join(unknown, ", "))
			}
		}
	}
	if _, err := parseExecAffinity(p.ExecCPUAffinity); err != nil {
		return err
	}
	for i, r := range p.Rlimits {
		if _, ok := rlimitTypes[r.Type]; !ok {
			return fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, r.Type)
		}
	}
	return nil
}

// checkOCIVersion accepts a SemVer 2.0.0 version of runtime-spec 1.x
// ("1.0.2", "1.2.0-rc.1", "1.0.2-dev"): a later major may change what a
// field means, so running it as 1.x would be a guess.
func checkOCIVersion(v string) error {
	if v == "" {
		return errors.New("missing (the runtime-spec version, e.g. \"" + specs.Version + "\")")
	}
	core, build, hasBuild := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	bad := func() error { return fmt.Errorf("%q is not a SemVer version (MAJOR.MINOR.PATCH)", v) }
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return bad()
	}
	for _, n := range nums {
		if !isNumericID(n) {
			return bad()
		}
	}
	if hasPre && !validIDs(pre, true) || hasBuild && !validIDs(build, false) {
		return bad()
	}
	if nums[0] != "1" {
		return fmt.Errorf("%q: only runtime-spec 1.x is supported", v)
	}
	return nil
}

// isNumericID: digits without a leading zero (SemVer's numeric identifier).
func isNumericID(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validIDs checks dot-separated SemVer identifiers ([0-9A-Za-z-]+); in a
// pre-release a numeric one may not have a leading zero.
func validIDs(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		numeric := true
		for _, c := range id {
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				return false
			}
		}
		if pre && numeric && !isNumericID(id) {
			return false
		}
	}
	return true
}
