package rootfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Options for Import.
type Options struct {
	Image string       // tag, name or ID of the image to take; "" if the archive holds one
	Force bool         // replace an existing non-empty bundle
	Spec  SpecOptions  // changes to config.json
	Warn  func(string) // notes about skipped things; may be nil
	// MaxSize bounds the total size of the unpacked files (0: no bound).
	MaxSize int64
	// RootlessWhy, for a rootless import (Spec.UIDMappings set) with a
	// single-id map, says why there are no more ids and what to do.
	RootlessWhy string
}

// Import turns the archive read from src (name is used in errors) into an
// OCI bundle at dir: dir/rootfs and dir/config.json. The bundle is built
// in a temporary directory beside dir and renamed into place at the end,
// so a failed import leaves nothing behind. An existing dir must be empty
// unless opts.Force is set.
func Import(ctx context.Context, src io.Reader, name, dir string, opts Options) (*Image, error) {
	img, err := doImport(ctx, src, name, dir, opts)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	return img, nil
}

func doImport(ctx context.Context, src io.Reader, name, dir string, opts Options) (_ *Image, retErr error) {
	warn := opts.Warn
	if warn == nil {
		warn = func(string) {}
	}
	dir = filepath.Clean(dir)
	exists, err := checkTarget(dir, opts.Force)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	// 0700, as umoci makes bundles: the rootfs's setuid binaries are not
	// reachable by other users of the host through it.
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".rt-import-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()

	spoolDir := filepath.Join(tmp, "spool")
	if err := os.Mkdir(spoolDir, 0o700); err != nil {
		return nil, err
	}
	archive, err := ReadArchive(ctx, src, spoolDir)
	if err != nil {
		return nil, err
	}
	img, err := archive.Image(opts.Image)
	if err != nil {
		return nil, err
	}
	if want := "linux/" + runtime.GOARCH; img.Config.OS+"/"+img.Config.Architecture != want {
		warn(fmt.Sprintf("the image is for %q, this host is %s: it will not run here without emulation", img.Platform(), want))
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return nil, err
	}
	var losses *LossReport
	if len(opts.Spec.UIDMappings) > 0 {
		losses = &LossReport{}
	}
	if err := img.Unpack(ctx, rootfs, UnpackOptions{Warn: warn, MaxBytes: opts.MaxSize, Losses: losses}); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(spoolDir); err != nil {
		return nil, err
	}
	if opts.Spec.Warn == nil {
		opts.Spec.Warn = warn
	}
	spec, err := RuntimeSpec(rootfs, &img.Config, opts.Spec)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if losses != nil {
		warnRootless(warn, losses, spec, opts.RootlessWhy)
	}
	if len(spec.Process.Args) == 0 {
		warn("the image has no Entrypoint or Cmd: give one after -- or set process.args in config.json")
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return img, swapInto(tmp, dir, exists, opts.Force, warn)
}

// checkTarget tells whether dir exists; a non-empty one (or a non-directory)
// is refused unless force.
func checkTarget(dir string, force bool) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if force {
		return true, nil
	}
	if !fi.IsDir() {
		return true, fmt.Errorf("%s exists and is not a directory (use --force to replace it)", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return true, err
	}
	defer f.Close()
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return true, fmt.Errorf("%s exists and is not empty (use --force to replace it)", dir)
	}
	return true, nil
}

// swapInto renames the finished bundle tmp to dir. An empty dir is replaced
// by rename(2) itself, which fails if something appeared in it meanwhile;
// with force, the two are exchanged atomically and the old one removed.
func swapInto(tmp, dir string, exists, force bool, warn func(string)) error {
	if exists && !force {
		// os.Rename refuses a directory as the destination; rename(2) takes an empty one.
		if err := unix.Rename(tmp, dir); err != nil {
			return fmt.Errorf("%s is no longer empty: %w", dir, err)
		}
		return nil
	}
	if !exists {
		err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			err = os.Rename(tmp, dir) // filesystem without RENAME_NOREPLACE
		}
		return err
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// No RENAME_EXCHANGE here: move the old one aside first.
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir)
			return err
		}
		tmp = old
	} else if err != nil {
		return err
	}
	// tmp now holds the previous content of dir.
	if err := os.RemoveAll(tmp); err != nil {
		warn(fmt.Sprintf("the new bundle is in place, but removing the old one failed: %v", err))
	}
	return nil
}
