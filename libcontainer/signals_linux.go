package libcontainer

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// resetSignals gives the process about to be exec'd clean signal
// dispositions: execve keeps ignored signals ignored and the signal mask as
// it is, so a container started from a shell's background job (`rt run ...
// &`, where the shell ignores SIGINT and SIGQUIT) would never see ^C or
// `kill -INT`. Every ignored signal goes back to its default and nothing is
// blocked. Handled signals (Go's) need nothing: execve resets them.
// Called on the init's locked thread, just before execve.
func resetSignals() {
	const sigIgn = 1
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		// The kernel's struct sigaction; only the handler (first) is read,
		// and the default is all zeros. 4 words covers every layout.
		var old [4]uint64
		if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); errno != 0 {
			continue
		}
		if old[0] == sigIgn {
			var dfl [4]uint64
			_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		}
	}
	var none unix.Sigset_t
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil)
}
