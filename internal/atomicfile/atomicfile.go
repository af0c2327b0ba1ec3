// Package atomicfile writes a file so that a reader sees either the old
// content or the new, never a part: state.json, pid files and the image
// store's records. It has no dependencies, so the engine (libcontainer)
// and the image store, which must not import the engine, share it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to a temporary file beside path, with mode, flushes
// it to disk and renames it over path. The directory must exist.
func Write(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, true)
}

// WriteVolatile is Write without the flush to disk: for files that describe
// live processes (state.json, pid files), which a reboot makes meaningless
// anyway. Readers still see the old content or the new, never a part (the
// rename is atomic); only a power cut may lose the update. The flush cost
// a start 3-4 ms on an ext4 --root (runc does not flush its state either).
func WriteVolatile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, false)
}

func write(path string, data []byte, mode os.FileMode, flush bool) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if flush {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
