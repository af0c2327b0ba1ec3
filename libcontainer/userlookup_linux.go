package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// maxUserFile bounds how much of a container's /etc/passwd rt reads.
const maxUserFile = 4 << 20

// openContainerFile opens a file of the container's (after pivot_root) for
// reading without ever blocking on it: the image decides what the path is,
// and a FIFO, a device such as /dev/urandom, or a huge file must not stall
// or exhaust rt while it holds the sync socket (runc hangs here). Only a
// regular file is read, and at most maxUserFile bytes.
func openContainerFile(path string) (io.ReadCloser, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, maxUserFile), f}, nil
}

// homeDir is the home of uid in the container's /etc/passwd, "/" when the
// file or the entry is missing or unusable (as runc and Docker default).
func homeDir(uid int) string {
	r, err := openContainerFile("/etc/passwd")
	if err != nil {
		return "/"
	}
	defer r.Close()
	users, err := user.ParsePasswdFilter(r, func(u user.User) bool { return u.Uid == uid })
	if err != nil && !errors.Is(err, io.EOF) || len(users) == 0 || users[0].Home == "" {
		return "/"
	}
	return users[0].Home
}
