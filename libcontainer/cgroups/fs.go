package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// destroyTimeout bounds how long Destroy waits for the last process to go.
var destroyTimeout = 5 * time.Second

// writeFile writes one value to a cgroup file in a single write(2), which is
// how the kernel parses them. It never creates the file: a missing file
// means a missing controller or feature, and ENOENT says so plainly.
func writeFile(dir, file, data string) error {
	p := filepath.Join(dir, file)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", data, p, err)
	}
	return nil
}

func readFile(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	return string(b), err
}

// readUint reads a single-number file; "max" reads as MaxUint64.
func readUint(dir, file string) (uint64, error) {
	s, err := readFile(dir, file)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 reports some unset limits as -1.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("parse %s: %w", filepath.Join(dir, file), err)
	}
	return v, nil
}

// readKV reads a "key value" per line file (memory.stat, cpu.stat, ...).
func readKV(dir, file string) (map[string]uint64, error) {
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
			out[fields[0]] = v
		}
	}
	return out, s.Err()
}

func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// readPids reads cgroup.procs of dir and, recursively, of its sub-cgroups.
func readPids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, os.ErrNotExist) {
				return err
			}
			// A sub-cgroup removed while walking is not an error.
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		s, err := readFile(p, "cgroup.procs")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(s) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("parse %s/cgroup.procs: %w", p, err)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	return pids, err
}

// waitEmpty polls until pids() is empty or destroyTimeout passes: a
// SIGKILLed container needs a moment before the kernel lets its cgroup go.
func waitEmpty(pids func() ([]int, error)) error {
	deadline := time.Now().Add(destroyTimeout)
	delay := 5 * time.Millisecond
	for {
		ps, err := pids()
		// ENODEV: the cgroup was removed while its files were read (systemd
		// removes an emptied scope's cgroup itself).
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still has processes %v after %s", ps, destroyTimeout)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// removeCgroupDir removes dir and the sub-cgroups below it, deepest first.
// On cgroupfs rmdir(2) is the only way (control files cannot be unlinked);
// EBUSY while the last tasks finish exiting is retried. A missing dir is
// success. Outside cgroupfs (the fake trees of the unit tests) the regular
// files are removed too.
func removeCgroupDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupDir(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if !isCgroupFS(dir) {
		return os.RemoveAll(dir)
	}
	delay := 10 * time.Millisecond
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i == 8 {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// removeEmptyDefaultParent removes the parents rt made for p under its own
// shared parent (DefaultParent, "/rt": a relative cgroupsPath such as
// "pod/ctr" makes /rt/pod), and /rt itself, once each is empty, so a host
// that ran rt keeps no cgroup behind. rmdir(2) fails while another
// container is in one, which is fine; Apply retries if it loses that race.
// A parent outside /rt may belong to someone else and is never touched.
func removeEmptyDefaultParent(base, p string) {
	if !strings.HasPrefix(p, DefaultParent+"/") {
		return
	}
	for dir := path.Dir(p); strings.HasPrefix(dir+"/", DefaultParent+"/"); dir = path.Dir(dir) {
		if unix.Rmdir(filepath.Join(base, dir)) != nil {
			return
		}
	}
}

// retryENOENT runs create again when it failed because a parent directory
// vanished under it (another container's Destroy removed an empty /rt
// between our mkdirs: ENOENT, or ENODEV for a control file read from the
// removed directory, as containerd does when it seeds cpuset).
func retryENOENT(create func() error) error {
	var err error
	for range 5 {
		if err = create(); !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENODEV) {
			return err
		}
	}
	return err
}

func isCgroupFS(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return true // assume the real thing: only rmdir, never unlink
	}
	return st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC
}

// signalPids sends sig to each pid; a process that is already gone is fine.
func signalPids(pids []int, sig unix.Signal) error {
	var errs []error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// isCgroup2 reports whether dir is a cgroup2 mount (a hybrid host's
// /sys/fs/cgroup/unified).
func isCgroup2(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
