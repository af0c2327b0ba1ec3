package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// nsFlags maps the spec's namespace types to clone(2) flags.
var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     0x20000000, // CLONE_NEWPID
	specs.NetworkNamespace: 0x40000000, // CLONE_NEWNET
	specs.MountNamespace:   0x00020000, // CLONE_NEWNS
	specs.IPCNamespace:     0x08000000, // CLONE_NEWIPC
	specs.UTSNamespace:     0x04000000, // CLONE_NEWUTS
	specs.UserNamespace:    0x10000000, // CLONE_NEWUSER
	specs.CgroupNamespace:  0x02000000, // CLONE_NEWCGROUP
	specs.TimeNamespace:    0x00000080, // CLONE_NEWTIME
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
		if _, ok := nsFlags[ns.Type]; !ok {
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
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination: %q is not an absolute path", i, m.Destination)
		}
		if err := checkMountOptions(m.Type, m.Options); err != nil {
			return fmt.Errorf("mounts[%d].options: %w", i, err)
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
	for k := range s.Linux.Sysctl {
		if strings.Contains(k, "/") || strings.Contains(k, "..") {
			return fmt.Errorf("linux.sysctl: invalid key %q", k)
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
	case l.MemoryPolicy != nil:
		return errors.New("linux.memoryPolicy: not supported")
	case l.MountLabel != "" && selinuxEnabled():
		return errors.New("linux.mountLabel: SELinux labels are not supported yet")
	}
	if p := s.Process; p != nil {
		switch {
		case p.Scheduler != nil:
			return errors.New("process.scheduler: not supported")
		case p.ExecCPUAffinity != nil:
			return errors.New("process.execCPUAffinity: not supported")
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

// personalities maps the spec's execution domains to personality(2) values.
var personalities = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

// ioprioClasses maps the spec's classes to the kernel's IOPRIO_CLASS_*.
var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

// validateProcess checks a process of config.json or of `rt exec`.
func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 {
		return errors.New("process.args: must not be empty")
	}
	if p.Cwd != "" && !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd: %q is not an absolute path", p.Cwd)
	}
	if c := p.Capabilities; c != nil {
		for field, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted, "inheritable": c.Inheritable, "ambient": c.Ambient} {
			for _, name := range set {
				if _, err := capFromName(name); err != nil {
					return fmt.Errorf("process.capabilities.%s: %w", field, err)
				}
			}
		}
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
