package libcontainer

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Exit statuses of `rt run`/`create`/`start` when the container's program
// cannot be run, as Docker (and POSIX shells) use them.
const (
	ExitCannotExecute = 126 // found, but execve failed (format, permission, directory)
	ExitNotFound      = 127 // no such program, or its #! / ELF interpreter is missing
)

// ExecError is a failure to execute the container's program: not found in
// PATH at create, or execve itself failing at start. It crosses from the init
// to rt as JSON (message "exec-error" on the sync socket, or written to the
// exec fifo after a failed execve) so rt can print it and exit 126/127.
type ExecError struct {
	Prog     string `json:"prog"`
	Reason   string `json:"reason"`
	NotFound bool   `json:"not_found"`
}

func (e *ExecError) Error() string { return "exec " + e.Prog + ": " + e.Reason }

// ExitCode is the exit status rt reports for e.
func (e *ExecError) ExitCode() int {
	if e.NotFound {
		return ExitNotFound
	}
	return ExitCannotExecute
}

// newExecError describes a failed execve(path): for ENOENT on a file that
// exists, the missing piece is its interpreter, and that is named.
func newExecError(path string, err error) *ExecError {
	e := &ExecError{Prog: path, Reason: err.Error()}
	if errors.Is(err, unix.ENOENT) {
		e.NotFound = true
		if interp := missingInterpreter(path); interp != "" {
			e.Reason = interp + ": " + err.Error()
		}
	}
	return e
}

// missingInterpreter names the #! interpreter or the ELF program interpreter
// (dynamic loader) of path, or "" when it has none or cannot be read.
func missingInterpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) > 0 {
			return "interpreter " + fields[0]
		}
		return ""
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				return "ELF interpreter " + string(bytes.TrimRight(b, "\x00"))
			}
		}
	}
	return ""
}

// msgExecError carries an *ExecError from the init (see sync.go).
const msgExecError = "exec-error"

// sendInitError reports the init's final error to the parent.
func sendInitError(sock *syncSocket, err error) {
	var ee *ExecError
	if errors.As(err, &ee) {
		if b, jerr := json.Marshal(ee); jerr == nil {
			_ = sock.send(msgExecError, b)
			return
		}
	}
	_ = sock.send(msgError, []byte(err.Error()))
}

// decodeInitError turns an "error" or "exec-error" payload into an error.
func decodeInitError(typ string, payload []byte) error {
	if typ == msgExecError {
		var ee ExecError
		if json.Unmarshal(payload, &ee) == nil {
			return &ee
		}
	}
	return errors.New(string(payload))
}

// reportExecFailure writes a failed execve's error into the exec fifo after
// the "0" the init wrote, for `rt start` to read back (see waitExec), and
// returns err.
func reportExecFailure(fifo *os.File, err error) error {
	var ee *ExecError
	if errors.As(err, &ee) {
		if b, jerr := json.Marshal(ee); jerr == nil {
			_, _ = fifo.Write(b)
		}
	}
	return err
}

// fifoExecError is what waitExec read from the fifo after the "0": nothing
// when execve succeeded.
func fifoExecError(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var ee ExecError
	if err := json.Unmarshal(data, &ee); err != nil {
		return fmt.Errorf("container process failed to start: %s", data)
	}
	return &ee
}
