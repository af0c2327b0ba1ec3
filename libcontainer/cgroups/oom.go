package cgroups

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// send delivers n OOM events, giving up when ctx ends.
func send(ctx context.Context, ch chan<- struct{}, n uint64) bool {
	for ; n > 0; n-- {
		select {
		case ch <- struct{}{}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// fileFromFd wraps a raw fd as a non-blocking *os.File: reads then park in
// Go's poller instead of a thread, and Close (on ctx end) wakes them.
func fileFromFd(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set %s non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// closeOnDone closes f when ctx ends or stop is closed.
func closeOnDone(ctx context.Context, f *os.File, stop <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-stop:
	}
	f.Close()
}

// watchEventfd turns the v1 memory.oom_control eventfd (registered by
// containerd's OOMEventFD) into a channel. The kernel also signals the
// eventfd when the cgroup is removed; that is told apart from an OOM by
// cgroup.event_control being gone, and closes the channel (as runc does).
func watchEventfd(ctx context.Context, efd int, memDir string) (<-chan struct{}, error) {
	f, err := fileFromFd(efd, "oom eventfd")
	if err != nil {
		return nil, err
	}
	// The eventfd counter is the number of notifications since the last
	// read.
	return watch(ctx, f, 8, func(buf []byte) (uint64, bool) {
		if _, err := os.Stat(filepath.Join(memDir, "cgroup.event_control")); err != nil {
			return 0, false // cgroup removed
		}
		return binary.NativeEndian.Uint64(buf), true
	}), nil
}

// watchMemoryEvents reports every increase of memory.events' oom_kill
// counter (one value per process the OOM killer killed) after the call.
// inotify on memory.events and cgroup.events wakes it; the channel closes
// when the cgroup is empty (no more OOM possible) or removed.
func watchMemoryEvents(ctx context.Context, dir string) (<-chan struct{}, error) {
	last, err := oomKills(dir)
	if err != nil {
		return nil, fmt.Errorf("oom events of %s: %w", dir, err)
	}
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("oom events of %s: inotify: %w", dir, err)
	}
	for _, file := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(ifd, filepath.Join(dir, file), unix.IN_MODIFY); err != nil {
			unix.Close(ifd)
			return nil, fmt.Errorf("oom events of %s: watch %s: %w", dir, file, err)
		}
	}
	f, err := fileFromFd(ifd, "inotify")
	if err != nil {
		return nil, err
	}
	return watch(ctx, f, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1), func([]byte) (uint64, bool) {
		// Read the counter before looking at emptiness: a kill of the
		// last process is counted before the cgroup empties.
		n, err := oomKills(dir)
		if err != nil {
			return 0, false // removed
		}
		var kills uint64
		if n > last {
			kills, last = n-last, n
		}
		ev, err := readKV(dir, "cgroup.events")
		return kills, err == nil && ev["populated"] != 0
	}), nil
}

// watch reads f until it fails or ctx ends. After each read, next says how
// many events to deliver and whether to go on; the channel closes at the
// end (the watchers share this loop).
func watch(ctx context.Context, f *os.File, bufSize int, next func(buf []byte) (uint64, bool)) <-chan struct{} {
	ch := make(chan struct{})
	stop := make(chan struct{})
	go closeOnDone(ctx, f, stop)
	go func() {
		defer close(ch)
		defer close(stop)
		buf := make([]byte, bufSize)
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed by ctx, or the fd went bad
			}
			n, more := next(buf)
			if !send(ctx, ch, n) || !more {
				return
			}
		}
	}()
	return ch
}

func oomKills(dir string) (uint64, error) {
	ev, err := readKV(dir, "memory.events")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("memory controller %w (no memory.events): %w", ErrUnavailable, err)
		}
		return 0, err
	}
	return ev["oom_kill"], nil
}
