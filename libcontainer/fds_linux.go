package libcontainer

import (
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// File descriptors crossing from rt into a container. Only stdio and the
// caller's preserved fds may ever reach the container process; anything
// else (a directory fd a script left open, rt's own sockets) is a way out of
// the container (CVE-2024-21626, CVE-2016-9962).

// markCloexecFrom marks every fd >= min close-on-exec. The parent calls it
// before starting the init, so fds its caller leaked to rt (not
// close-on-exec) never reach the init at all; the init calls it again as
// the last step before execve.
func markCloexecFrom(min int) error {
	if err := unix.CloseRange(uint(min), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	for _, fd := range openFds() {
		if fd >= min {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// closeFdsExcept closes every fd >= min except keep. The init calls it
// first thing, before it reads anything from the container's filesystem:
// whatever the container could make it block on, it holds nothing but the
// container's own fds and the sync socket.
func closeFdsExcept(min int, keep ...int) {
	keep = slices.DeleteFunc(slices.Clone(keep), func(fd int) bool { return fd < min })
	slices.Sort(keep)
	lo := min
	for _, k := range keep {
		if k > lo {
			closeRange(lo, k-1)
		}
		lo = k + 1
	}
	closeRange(lo, -1)
}

// closeRange closes fds lo..hi (hi < 0: to the end).
func closeRange(lo, hi int) {
	last := ^uint(0)
	if hi >= 0 {
		last = uint(hi)
	}
	if err := unix.CloseRange(uint(lo), last, 0); err == nil {
		return
	}
	for _, fd := range openFds() {
		if fd >= lo && (hi < 0 || fd <= hi) {
			unix.Close(fd)
		}
	}
}

// openFds lists this process's fds (fallback for kernels before 5.9/5.11).
func openFds() []int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}
