package libcontainer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestExecErrorCodes(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(script, []byte("#!/no/such/interp -x\necho\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newExecError(script, unix.ENOENT)
	if e.ExitCode() != ExitNotFound || e.Error() != "exec "+script+": interpreter /no/such/interp: no such file or directory" {
		t.Fatalf("%q %d", e.Error(), e.ExitCode())
	}
	e = newExecError("/hello", unix.ENOEXEC)
	if e.ExitCode() != ExitCannotExecute || e.Error() != "exec /hello: exec format error" {
		t.Fatalf("%q %d", e.Error(), e.ExitCode())
	}
}

func TestFifoExecError(t *testing.T) {
	if err := fifoExecError(nil); err != nil {
		t.Fatal(err)
	}
	err := fifoExecError([]byte(`{"prog":"/x","reason":"exec format error"}`))
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitCannotExecute || err.Error() != "exec /x: exec format error" {
		t.Fatalf("%v", err)
	}
}
