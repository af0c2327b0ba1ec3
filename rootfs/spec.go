package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SpecOptions are the caller's changes to what the image config says, in
// `docker run` terms.
type SpecOptions struct {
	Args        []string  // replace the image's Cmd (docker run IMAGE ARGS...)
	Entrypoint  *[]string // replace the image's Entrypoint and drop its Cmd (docker run --entrypoint)
	Terminal    bool      // process.terminal
	HostNetwork bool      // share the host's network namespace and its resolv.conf and hosts
	// UIDMappings and GIDMappings, if set, make the bundle rootless: a
	// user namespace with these maps (userns.go).
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	Warn                     func(string) // what was left out of the spec; may be nil
}

// reservedLabelPrefixes: annotations runtimes act on. An image's labels
// become the bundle's annotations, but an image's author must not set the
// host's systemd unit properties (org.systemd.property.* with
// --systemd-cgroup, runc's and rt's) or crun's run.oci.* switches.
var reservedLabelPrefixes = []string{"org.systemd.property.", "run.oci."}

// DefaultPath is the PATH Docker gives a container whose image sets none.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// StopSignalAnnotation carries the image's StopSignal (image-spec conversion.md).
const StopSignalAnnotation = "org.opencontainers.image.stopSignal"

// dockerCaps is Docker's default capability set (moby oci/caps/defaults.go).
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// RuntimeSpec makes config.json for an image unpacked at rootfsDir: the
// default spec (DefaultSpec, the one `rt spec` writes) filled in from the image config
// as Docker would run it. It reads /etc/passwd and /etc/group inside the
// rootfs to resolve the image's User, and creates WorkingDir if missing.
func RuntimeSpec(rootfsDir string, cfg *ispec.Image, opts SpecOptions) (*specs.Spec, error) {
	s := DefaultSpec()
	c := cfg.Config
	s.Root = &specs.Root{Path: "rootfs"} // writable, as in Docker
	// No hostname: rt then names the container by its ID, as Docker does.
	s.Hostname = ""
	p := s.Process
	p.Terminal = opts.Terminal
	// Docker does not set no_new_privileges: setuid binaries in the image work.
	p.NoNewPrivileges = false
	p.Capabilities = &specs.LinuxCapabilities{
		Bounding:  append([]string(nil), dockerCaps...),
		Effective: append([]string(nil), dockerCaps...),
		Permitted: append([]string(nil), dockerCaps...),
	}

	entrypoint, cmd := c.Entrypoint, c.Cmd
	if opts.Entrypoint != nil {
		entrypoint, cmd = *opts.Entrypoint, nil
	}
	if len(opts.Args) > 0 {
		cmd = opts.Args
	}
	p.Args = append(append([]string{}, entrypoint...), cmd...)

	p.Env = append([]string{}, c.Env...)
	if !hasEnv(p.Env, "PATH") {
		p.Env = append(p.Env, DefaultPath)
	}
	if opts.Terminal && !hasEnv(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}

	root, err := os.OpenFile(rootfsDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	p.Cwd = path.Clean("/" + c.WorkingDir)
	if err := ensureDir(root, p.Cwd); err != nil {
		return nil, fmt.Errorf("WorkingDir %s: %w", p.Cwd, err)
	}
	if p.User, err = resolveUser(root, c.User); err != nil {
		return nil, fmt.Errorf("User %q: %w", c.User, err)
	}

	if len(c.Labels) > 0 || c.StopSignal != "" {
		s.Annotations = map[string]string{}
		var dropped []string
		for k, v := range c.Labels {
			if slices.ContainsFunc(reservedLabelPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
				dropped = append(dropped, strconv.Quote(k))
				continue
			}
			s.Annotations[k] = v
		}
		if len(dropped) > 0 && opts.Warn != nil {
			sort.Strings(dropped)
			opts.Warn(fmt.Sprintf("image labels left out of the annotations (runtimes act on them, an image may not): %s", strings.Join(dropped, ", ")))
		}
		if c.StopSignal != "" {
			s.Annotations[StopSignalAnnotation] = c.StopSignal
		}
	}

	if opts.HostNetwork {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.NetworkNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: f, Type: "bind", Source: f, Options: []string{"bind", "ro"}})
		}
	}
	if len(opts.UIDMappings) > 0 {
		rootlessSpec(s, opts)
	}
	return s, nil
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}

// ensureDir creates dir inside root if it is missing (0755, root-owned, as
// Docker creates a missing WORKDIR).
func ensureDir(root *os.File, dir string) error {
	f, err := pathrs.OpenatInRoot(root, dir)
	if errors.Is(err, os.ErrNotExist) {
		f, err = pathrs.MkdirAllHandle(root, dir, 0o755)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory in the rootfs")
	}
	return nil
}

// resolveUser turns the image's User into ids with the rootfs's own
// /etc/passwd and /etc/group, as Docker does (moby daemon/oci_linux.go
// getUser): the primary gid comes first among the additional gids.
func resolveUser(root *os.File, spec string) (specs.User, error) {
	passwd, err := readFileInRoot(root, "/etc/passwd")
	if err != nil {
		return specs.User{}, err
	}
	group, err := readFileInRoot(root, "/etc/group")
	if err != nil {
		return specs.User{}, err
	}
	eu, err := user.GetExecUser(spec, nil, passwd, group)
	if err != nil {
		return specs.User{}, err
	}
	u := specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid), AdditionalGids: []uint32{uint32(eu.Gid)}}
	for _, g := range eu.Sgids {
		u.AdditionalGids = append(u.AdditionalGids, uint32(g))
	}
	return u, nil
}

// readFileInRoot reads a small file of the rootfs, resolving symlinks
// inside it, and creates nothing. A missing file (or one that is not a
// regular file: a fifo would block) gives nil.
func readFileInRoot(root *os.File, name string) (io.Reader, error) {
	h, err := pathrs.OpenatInRoot(root, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, nil
		}
		return nil, err
	}
	defer h.Close()
	if fi, err := h.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, err
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJSON))
	if err != nil {
		return nil, err
	}
	return strings.NewReader(string(b)), nil
}
