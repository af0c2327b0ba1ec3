package imagestore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Container is the store's side of one container started from an image:
// a directory (the container's bundle) holding rootfs/, an overlay mount
// of the image's layers with upper/ and work/ of its own beside it.
type Container struct {
	Dir    string // the bundle: write config.json here
	Rootfs string // Dir/rootfs, the overlay mount
	Image  *Record
	Config *ispec.Image
	lock   *os.File
}

// owner says which container a containers/ directory belongs to, so gc
// can tell a live one from one left by a crash.
type owner struct {
	Root   string          `json:"root"` // the state root (--root) of rt
	ID     string          `json:"id"`
	Image  digest.Digest   `json:"image"`
	Layers []digest.Digest `json:"layers"`
}

// Prepare makes the rootfs of container id (of the state root stateRoot)
// from image ref. The directory stays locked (gc leaves it alone) until
// Unlock, which the caller calls once the container's state is saved.
func (s *Store) Prepare(ref, stateRoot, id string) (_ *Container, retErr error) {
	lk, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	rec, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(rec)
	if err != nil {
		return nil, err
	}
	for _, l := range rec.Layers {
		if !s.hasLayer(l) {
			return nil, fmt.Errorf("image %q: layer %s is missing from the store: load the image again", ref, l)
		}
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, "containers", hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		os.Remove(dir)
		return nil, err
	}
	c := &Container{Dir: dir, Rootfs: filepath.Join(dir, "rootfs"), Image: rec, Config: cfg, lock: f}
	defer func() {
		if retErr != nil {
			c.Remove()
			c.Unlock()
		}
	}()
	b, _ := json.Marshal(owner{Root: stateRoot, ID: id, Image: rec.ID, Layers: rec.Layers})
	if err := os.WriteFile(filepath.Join(dir, "owner.json"), b, 0o600); err != nil {
		return nil, err
	}
	for _, d := range []string{"rootfs", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := s.mountOverlay(c, rec); err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return c, nil
}

// Unlock releases the directory lock: from then on, gc judges the
// directory by the container's state.json.
func (c *Container) Unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// Remove unmounts the rootfs and removes the directory. It is what
// libcontainer's destroy does with State.RootfsMount and State.Cleanup,
// for a container whose create failed before its state was saved.
func (c *Container) Remove() error { return RemoveContainerDir(c.Dir) }

// RemoveContainerDir unmounts DIR/rootfs and removes DIR; when the
// unmount fails it leaves DIR alone (removing through a mounted rootfs
// would write whiteouts into it, or worse).
func RemoveContainerDir(dir string) error {
	if err := unmount(filepath.Join(dir, "rootfs")); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func unmount(p string) error {
	for {
		err := unix.Unmount(p, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		if err == nil {
			continue // stacked mounts: until none is left
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil // not a mount point (any more)
		}
		return fmt.Errorf("unmount %s: %w", p, err)
	}
}

// mountOverlay mounts the image's layers (top first) as lower dirs, with
// the container's upper and work dirs. The upper dir's root takes the
// owner and mode of the image's root, which the merged root shows.
func (s *Store) mountOverlay(c *Container, rec *Record) error {
	var lowers []string
	for i := len(rec.Layers) - 1; i >= 0; i-- {
		lowers = append(lowers, filepath.Join(s.layerDir(rec.Layers[i]), "diff"))
	}
	if len(lowers) == 0 { // an image without layers: one empty lower dir
		empty := filepath.Join(c.Dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		lowers = append(lowers, empty)
	}
	upper, work := filepath.Join(c.Dir, "upper"), filepath.Join(c.Dir, "work")
	var st unix.Stat_t
	if err := unix.Stat(lowers[0], &st); err == nil {
		_ = os.Chown(upper, int(st.Uid), int(st.Gid))
		_ = os.Chmod(upper, os.FileMode(st.Mode&0o777))
	}
	var err error
	if os.Getenv("RT_TEST_NO_OVERLAY") == "1" { // test hook: the fallback
		err = fmt.Errorf("fsopen: %w (RT_TEST_NO_OVERLAY)", unix.ENODEV)
	} else if err = mountNewAPI(c.Rootfs, lowers, upper, work); err == nil {
		return nil
	} else if !errors.Is(err, unix.ENODEV) {
		// Kernels before 6.8 have no "lowerdir+": one option string,
		// which must fit in a page.
		opts := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work
		err2 := unix.Mount("overlay", c.Rootfs, "overlay", 0, opts+",volatile")
		if errors.Is(err2, unix.EINVAL) { // before 5.10: no volatile
			err2 = unix.Mount("overlay", c.Rootfs, "overlay", 0, opts)
		}
		if err2 == nil {
			return nil
		}
		if !errors.Is(err2, unix.ENODEV) && !errors.Is(err2, unix.EINVAL) {
			return fmt.Errorf("mount overlay at %s: %v (fsconfig: %v)", c.Rootfs, err2, err)
		}
		err = err2
	}
	// No overlayfs here (or not on the store's filesystem): a copy.
	s.warnOnce(fmt.Sprintf("overlayfs is not available (%v): the container gets a copy of the image's files", err))
	os.Remove(upper)
	os.Remove(work)
	return copyLayers(lowers, c.Rootfs)
}

func mountNewAPI(target string, lowers []string, upper, work string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return fmt.Errorf("lowerdir+ %s: %w", l, err)
		}
	}
	if err := unix.FsconfigSetString(fd, "upperdir", upper); err != nil {
		return fmt.Errorf("upperdir: %w", err)
	}
	if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
		return fmt.Errorf("workdir: %w", err)
	}
	// volatile: no syncs of the upper filesystem (the unmount at delete
	// would otherwise sync the store's whole filesystem). The upper dir
	// is discarded at delete, and a container does not outlive a reboot,
	// so nothing is lost that would have been kept.
	_ = unix.FsconfigSetFlag(fd, "volatile")
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}
