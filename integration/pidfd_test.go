package integration

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// recvPidfd accepts one connection on l and returns the name and the fd
// it carried.
func recvPidfd(t *testing.T, l *net.UnixListener) (string, int) {
	t.Helper()
	l.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	scms, _ := unix.ParseSocketControlMessage(oob[:oobn])
	if len(scms) != 1 {
		t.Fatalf("%d control messages", len(scms))
	}
	fds, err := unix.ParseUnixRights(&scms[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v: %v", fds, err)
	}
	return string(buf[:n]), fds[0]
}

// gone waits until pid no longer runs (or is a zombie).
func gone(pid int) bool {
	for i := 0; i < 100; i++ {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(data), ") Z ") {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// --pidfd-socket: the caller gets a pidfd of the container's init
// ("standard") or of an exec'd process ("setns"), and signals the very
// process with it; a socket nobody listens on fails before anything is made.
func TestPidfdSocket(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(e.dir, "pidfd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b := e.bundle("b", nil, "sleep", "30")

	type got struct {
		name string
		fd   int
	}
	recv := make(chan got, 1)
	go func() { n, fd := recvPidfd(t, l); recv <- got{n, fd} }()
	e.mustRT("run", "-d", "--pidfd-socket", sock, "-b", b, "pidfd")
	g := <-recv
	pid := int(e.state("pidfd")["pid"].(float64))
	go func() { n, fd := recvPidfd(t, l); recv <- got{n, fd} }()
	e.mustRT("exec", "-d", "--pidfd-socket", sock, "--pid-file", filepath.Join(e.dir, "exec.pid"), "pidfd", "sleep", "30")
	ge := <-recv
	execPid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(e.dir, "exec.pid"))))
	if g.name != "standard" || ge.name != "setns" {
		t.Fatalf("names %q and %q, want standard and setns", g.name, ge.name)
	}
	if err := unix.PidfdSendSignal(ge.fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	if !gone(execPid) {
		t.Fatalf("exec'd process %d survived a SIGKILL through its pidfd", execPid)
	}
	if st := e.state("pidfd")["status"]; st != "running" {
		t.Fatalf("killing the exec'd process changed the container: %v", st)
	}
	if err := unix.PidfdSendSignal(g.fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Fatalf("init %d survived a SIGKILL through its pidfd", pid)
	}
	unix.Close(g.fd)
	unix.Close(ge.fd)

	_, errs, code := e.rt("run", "-d", "--pidfd-socket", filepath.Join(e.dir, "none.sock"), "-b", b, "nopidfd")
	if code != 1 || !strings.Contains(errs, "--pidfd-socket") {
		t.Fatalf("no listener: exit %d, stderr %q", code, errs)
	}
	if out := e.mustRT("list", "-q"); strings.Contains(out, "nopidfd") {
		t.Fatalf("a failed --pidfd-socket left a container: %q", out)
	}
}
