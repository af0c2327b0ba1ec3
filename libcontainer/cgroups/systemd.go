package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	ocgroups "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd cgroup driver (`rt --systemd-cgroup`), as runc's: the
// container's cgroup is a transient scope unit that systemd creates over
// D-Bus, in the slice cgroupsPath names ("slice:prefix:name" ->
// <slice>/<prefix>-<name>.scope, with Delegate=yes), and the limits systemd
// knows are also set as unit properties, so that systemd (on daemon-reload,
// say) keeps them instead of writing its own defaults over them.
//
// The unit's lifecycle and the property translation are runc's own code
// (github.com/opencontainers/cgroups/systemd, with runc's specconv for the
// "slice:prefix:name" rules and org.systemd.property.* annotations); rt's
// cgroupfs manager for the same path does everything else exactly as for a
// cgroupfs container: validated limits, devices (rt's eBPF filter; systemd
// is given none, so it never installs a deny-all program), stats, freeze,
// kill, OOM events, ownership marks.

// systemdManager is the cgroupfs Manager of the unit's cgroup, plus the unit.
type systemdManager struct {
	Manager                   // the cgroup at Path(), as for cgroupfs
	unit     ocgroups.Manager // runc's systemd manager: the unit and its properties
	triple   string           // "slice:prefix:name", defaults filled in
	name     string           // the unit's name
	owner    string           // set by Claim: mark the cgroup once the unit made it
	claiming bool
}

// DefaultScopePrefix names rt's scopes when cgroupsPath is empty
// ("rt-<id>.scope"; runc's are "runc-<id>.scope").
const DefaultScopePrefix = "rt"

// NewSystemd returns the manager of a container run with --systemd-cgroup:
// spec's linux.cgroupsPath is "slice:prefix:name" or empty (then
// "system.slice:rt:<id>"), and its org.systemd.property.* annotations become
// unit properties. Nothing is created until Apply.
func NewSystemd(id string, spec *specs.Spec) (Manager, error) {
	cgPath := ""
	if spec.Linux != nil {
		cgPath = spec.Linux.CgroupsPath
	}
	if cgPath != "" && strings.Count(cgPath, ":") != 2 {
		return nil, fmt.Errorf("linux.cgroupsPath %q: with --systemd-cgroup it must be \"slice:prefix:name\"", cgPath)
	}
	// Only the parts specconv reads for the unit: resources go through Set.
	cfg, err := specconv.CreateCgroupConfig(&specconv.CreateOpts{
		CgroupName:       id,
		UseSystemdCgroup: true,
		RootlessCgroups:  os.Geteuid() != 0,
		Spec:             &specs.Spec{Annotations: spec.Annotations, Linux: &specs.Linux{CgroupsPath: cgPath}},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgPath, err)
	}
	if cgPath == "" {
		cfg.ScopePrefix = DefaultScopePrefix
	}
	if err := unitDefaults(cfg); err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgPath, err)
	}
	if !systemd.IsRunningSystemd() {
		return nil, errors.New("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs driver")
	}
	m, err := newSystemd(cfg)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgPath, err)
	}
	return m, nil
}

// LoadSystemd returns the manager of an existing container's unit from what
// state.json recorded: SystemdUnit's triple and the cgroup path. They must
// agree, so an edited state.json cannot point the unit's commands at some
// other cgroup.
func LoadSystemd(triple, p string) (Manager, error) {
	parts := strings.Split(triple, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("systemd unit %q: not \"slice:prefix:name\"", triple)
	}
	cfg := &ocgroups.Cgroup{
		Systemd: true, Rootless: os.Geteuid() != 0, Resources: &ocgroups.Resources{},
		Parent: parts[0], ScopePrefix: parts[1], Name: parts[2],
	}
	if err := unitDefaults(cfg); err != nil {
		return nil, fmt.Errorf("systemd unit %q: %w", triple, err)
	}
	m, err := newSystemd(cfg)
	if err != nil {
		return nil, err
	}
	if m.Path() != p {
		return nil, fmt.Errorf("systemd unit %q has cgroup %s, not %s", triple, m.Path(), p)
	}
	return m, nil
}

// SystemdUnit is what LoadSystemd needs again ("slice:prefix:name"), or ""
// for a cgroupfs manager.
func SystemdUnit(m Manager) string {
	if s, ok := m.(*systemdManager); ok {
		return s.triple
	}
	return ""
}

// unitDefaults fills in runc's default slice and checks the parts.
func unitDefaults(cfg *ocgroups.Cgroup) error {
	if cfg.Parent == "" {
		cfg.Parent = "system.slice"
		if cfg.Rootless {
			cfg.Parent = "user.slice"
		}
	}
	if cfg.Parent == "-" { // runc: "-" is the root slice
		cfg.Parent = "-.slice"
	}
	if err := checkUnitParts(cfg); err != nil {
		return err
	}
	_, err := systemd.ExpandSlice(cfg.Parent)
	return err
}

// newSystemd builds the managers of a unit whose parts unitDefaults checked.
func newSystemd(cfg *ocgroups.Cgroup) (*systemdManager, error) {
	// Kept off systemd: rt's own filter does devices (see above).
	cfg.Resources.SkipDevices = true
	cfg.Resources.SkipFreezeOnSet = true
	mode, err := HostMode()
	if err != nil {
		return nil, err
	}
	var (
		unit ocgroups.Manager
		p    string
	)
	if mode == ModeV2 {
		u, err := systemd.NewUnifiedManager(cfg, "")
		if err != nil {
			return nil, fmt.Errorf("systemd: %w", err)
		}
		// The rootless path depends on the user manager's cgroup, which
		// only runc's manager asks systemd for.
		unit, p = u, strings.TrimPrefix(u.Path(""), unifiedMountpoint)
	} else {
		u, err := systemd.NewLegacyManager(cfg, nil)
		if err != nil {
			return nil, fmt.Errorf("systemd: %w", err)
		}
		slice, err := systemd.ExpandSlice(cfg.Parent)
		if err != nil {
			return nil, err
		}
		unit, p = u, path.Join(slice, unitName(cfg))
	}
	if err := checkPath(p); err != nil {
		return nil, err
	}
	fs, err := newForHost(p)
	if err != nil {
		return nil, err
	}
	return &systemdManager{
		Manager: fs, unit: unit,
		triple: cfg.Parent + ":" + cfg.ScopePrefix + ":" + cfg.Name,
		name:   unitName(cfg),
	}, nil
}

// unitName is runc's: <prefix>-<name>.scope, or name itself if a slice.
func unitName(cfg *ocgroups.Cgroup) string {
	if strings.HasSuffix(cfg.Name, ".slice") {
		return cfg.Name
	}
	return cfg.ScopePrefix + "-" + cfg.Name + ".scope"
}

// checkUnitParts keeps the parts to what a systemd unit name may hold
// (systemd refuses the rest anyway), so that no part can walk the cgroup
// path out of its slice ("..", "/").
func checkUnitParts(cfg *ocgroups.Cgroup) error {
	if cfg.Name == "" {
		return errors.New("systemd: the name part is empty")
	}
	for _, s := range []string{cfg.Parent, cfg.ScopePrefix, cfg.Name} {
		for _, c := range s {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.ContainsRune(":_.-@\\", c):
			default:
				return fmt.Errorf("systemd: %q: %q is not allowed in a unit name", s, c)
			}
		}
	}
	if u := unitName(cfg); strings.Contains(u, "..") {
		return fmt.Errorf("systemd: unit name %q", u)
	}
	return nil
}

// Claim refuses a unit cgroup that holds processes; the cgroup itself is
// made by systemd when Apply starts the unit with the first process (a
// scope cannot start empty), and marked as owner's then.
func (m *systemdManager) Claim(owner string) error {
	if _, err := refusePopulated(m.dirs()); err != nil {
		return err
	}
	m.owner, m.claiming = owner, true
	return nil
}

func (m *systemdManager) dirs() []string {
	if d, ok := m.Manager.(interface{ dirs() []string }); ok {
		return d.dirs()
	}
	return nil
}

// Apply: the first call after Claim starts the unit with pid in it; later
// ones (rt exec joining) move pid into the cgroup as cgroupfs does.
func (m *systemdManager) Apply(pid int) error {
	if m.claiming {
		if pid <= 0 {
			return fmt.Errorf("systemd scope needs its first process: %w", ErrNotSupported)
		}
		m.claiming = false
		err := claimDirs(m.dirs(), m.owner, func() error {
			if err := m.unit.Apply(pid); err != nil {
				return fmt.Errorf("systemd: start %s: %w", m.name, err)
			}
			// v1: the hierarchies systemd does not manage.
			return m.Manager.Apply(pid)
		})
		return err
	}
	return m.Manager.Apply(pid)
}

// OpenDir: the scope's cgroup exists only once systemd put the first
// process in it, so the caller must Apply instead (as on v1).
func (m *systemdManager) OpenDir() (*os.File, error) { return nil, ErrNotSupported }

func (m *systemdManager) Set(r *specs.LinuxResources) error {
	if err := m.Manager.Set(r); err != nil {
		return err
	}
	return m.setProperties(r)
}

func (m *systemdManager) Update(r *specs.LinuxResources) error {
	if err := m.Manager.Update(r); err != nil {
		return err
	}
	return m.setProperties(r)
}

// setProperties records on the unit the limits systemd has properties for
// (runc's table: memory, cpu, cpuset, pids and their unified keys). runc's
// manager writes the same values to the cgroup again after setting them;
// the cgroupfs manager has already validated and written them.
func (m *systemdManager) setProperties(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	sub := &specs.LinuxResources{Pids: r.Pids, Unified: systemdUnified(r.Unified)}
	if r.Memory != nil {
		sub.Memory = &specs.LinuxMemory{Limit: r.Memory.Limit, Reservation: r.Memory.Reservation, Swap: r.Memory.Swap}
	}
	if r.CPU != nil {
		sub.CPU = &specs.LinuxCPU{Shares: r.CPU.Shares, Quota: r.CPU.Quota, Period: r.CPU.Period, Cpus: r.CPU.Cpus, Mems: r.CPU.Mems}
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil && m.Mode() == ModeV1 {
		sub.BlockIO = &specs.LinuxBlockIO{Weight: r.BlockIO.Weight}
	}
	cfg, err := specconv.CreateCgroupConfig(&specconv.CreateOpts{
		CgroupName: "unit", UseSystemdCgroup: true,
		Spec: &specs.Spec{Linux: &specs.Linux{Resources: sub}},
	}, nil)
	if err != nil {
		return fmt.Errorf("systemd unit properties: %w", err)
	}
	cfg.Resources.SkipDevices, cfg.Resources.SkipFreezeOnSet = true, true
	if err := m.unit.Set(cfg.Resources); err != nil {
		return fmt.Errorf("systemd unit properties: %w", err)
	}
	return nil
}

// systemdUnified keeps the unified keys runc turns into unit properties.
func systemdUnified(u map[string]string) map[string]string {
	var out map[string]string
	for k, v := range u {
		switch k {
		case "cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "memory.high", "memory.low",
			"memory.min", "memory.max", "memory.swap.max", "pids.max":
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// Destroy removes the cgroup as cgroupfs does (waiting for it to empty),
// then stops the unit and lets systemd forget it (a failed unit would block
// the next container of that name).
func (m *systemdManager) Destroy() error {
	err := m.Manager.Destroy()
	if uerr := m.unit.Destroy(); uerr != nil && err == nil {
		err = fmt.Errorf("systemd: stop %s: %w", m.name, uerr)
	}
	return err
}
