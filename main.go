// Command rt is a daemonless OCI container runtime in the mould of runc.
//
// Each CLI verb lives in its own file at the top level (spec.go, run.go, ...)
// and only parses flags; the engine is in libcontainer/, the docker-save
// converter in rootfs/.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
	_ "github.com/rt-project/rt/libcontainer/nsenter"
)

// Set at build time with -ldflags "-X main.version=... -X main.gitCommit=...".
var (
	version   = "0.1.0"
	gitCommit = ""
)

const defaultRoot = "/run/rt"

func main() {
	libcontainer.Warn = warn
	libcontainer.Note = note
	app := newApp()
	if err := app.Run(reorderArgs(app, os.Args)); err != nil {
		fatal(err)
	}
}

func newApp() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		// go-runc parses the first line as "<name> version X".
		fmt.Printf("rt version %s\ncommit: %s\nspec: %s\ngo: %s\n", version, gitCommit, specs.Version, runtime.Version())
	}
	return &cli.App{
		Name:    "rt",
		Usage:   "a daemonless OCI container runtime",
		Version: version,
		Description: `rt runs OCI containers with no daemon, as runc does, and takes runc's
commands and flags, so containerd and podman can drive it. A container comes
from a bundle: a directory holding config.json and a root filesystem. Two ways
to get one:

   rt load busybox.tar                # a 'docker save' archive -> the image store
   rt run --image busybox c0 -- echo hi   # each container gets a fresh overlay of the image

   rt import busybox.tar ./bb         # a 'docker save' archive -> bundle
   rt run -b ./bb c1 -- echo hello    # run it; the command after -- overrides the image's

   mkdir -p bundle/rootfs && tar -xf rootfs.tar -C bundle/rootfs
   rt spec -b bundle                  # write an example config.json, then edit it
   rt run -b bundle c2

'rt run' stays in the foreground and exits with the process's status. Each
command explains itself and has an example: rt COMMAND --help.`,
		// -e A=1,2 is one variable, not two.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "append log lines to `FILE` instead of stderr"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.StringFlag{Name: "root", Value: defaultRootDir(), Usage: "state directory of containers"},
			&cli.StringFlag{Name: "store", Value: defaultStoreDir(), Usage: "image store `DIR` (rt load, rt run --image)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "cgroups as systemd scope units (linux.cgroupsPath \"slice:prefix:name\")"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors (true, false, auto)"},
		},
		Before: func(c *cli.Context) error {
			if err := setupLog(c); err != nil {
				return err
			}
			return nil
		},
		Commands: commands,
		CommandNotFound: func(c *cli.Context, name string) {
			fatal(fmt.Errorf("unknown command %q (see 'rt --help')", name))
		},
		ExitErrHandler: func(*cli.Context, error) {}, // errors are printed by fatal in main
	}
}

// commands is the CLI, one file per verb.
var commands = []*cli.Command{
	checkpointCommand,
	createCommand,
	deleteCommand,
	eventsCommand,
	execCommand,
	featuresCommand,
	killCommand,
	listCommand,
	pauseCommand,
	psCommand,
	restoreCommand,
	resumeCommand,
	runCommand,
	specCommand,
	importCommand,
	loadCommand,
	imagesCommand,
	rmiCommand,
	gcCommand,
	startCommand,
	stateCommand,
	updateCommand,
}

func init() {
	// The container init: nsenter.c has already set up the namespaces.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}

// defaultRootDir follows runc: /run/rt for root, $XDG_RUNTIME_DIR/rt
// otherwise (rootless.go: also for podman rootless's user namespace).
func defaultRootDir() string {
	if honorXDGRuntimeDir() {
		return filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "rt")
	}
	return defaultRoot
}

// defaultStoreDir is /var/lib/rt for root, $XDG_DATA_HOME/rt (or
// ~/.local/share/rt) otherwise.
func defaultStoreDir() string {
	if os.Geteuid() != 0 {
		if xdg := os.Getenv("XDG_DATA_HOME"); xdg != "" {
			return filepath.Join(xdg, "rt")
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "share", "rt")
		}
	}
	return defaultStore
}

const defaultStore = "/var/lib/rt"

// logging: rt writes errors (and with --debug, debug lines) to stderr or --log,
// as logrus-style text lines (time="..." level=debug msg="...") or as
// runc-compatible JSON lines ({"level","msg","time"}), which is what
// containerd's shim and conmon read back.
var (
	logOut    io.Writer = os.Stderr
	logJSON   bool
	logDebug  bool
	logToFile bool
)

func setupLog(c *cli.Context) error {
	logDebug = c.Bool("debug")
	switch f := c.String("log-format"); f {
	case "text":
	case "json":
		logJSON = true
	default:
		return fmt.Errorf("--log-format: unknown format %q (want text or json)", f)
	}
	if p := c.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		logOut = f
		logToFile = true
	}
	// runc's helper packages (the systemd driver's unit handling) log
	// through logrus: their lines go through rt's logger instead of
	// logrus's own format on stderr.
	logrus.SetOutput(io.Discard)
	if logDebug {
		logrus.SetLevel(logrus.DebugLevel)
		libcontainer.DebugEnabled = true
		libcontainer.Debug = func(msg string) { logf("debug", "%s", msg) }
	}
	logrus.AddHook(logrusHook{})
	return nil
}

type logrusHook struct{}

func (logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (logrusHook) Fire(e *logrus.Entry) error {
	msg := e.Message
	// Fields (WithError's "error") carry the why: keep them, sorted.
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg += fmt.Sprintf(" %s=%v", k, e.Data[k])
	}
	if e.Level <= logrus.WarnLevel {
		warn(msg)
	} else {
		logf("debug", "%s", msg)
	}
	return nil
}

// warn reports a warning: one "rt: warning:" line on stderr, and a
// "warning" entry in the --log file. libcontainer's warnings (the init's
// included, which come over the sync socket) arrive here.
func warn(msg string) {
	if logToFile {
		logf("warning", "%s", msg)
	}
	fmt.Fprintf(os.Stderr, "rt: warning: %s\n", msg)
}

// note records a line in the --log file at warning level, and on stderr
// only with --debug: what rt adjusts as runc and crun do (silently for
// them) must not add a line to every run of a common config.
func note(msg string) {
	switch {
	case logToFile:
		logf("warning", "%s", msg)
	case logDebug:
		fmt.Fprintf(os.Stderr, "rt: warning: %s\n", msg)
	}
}

func logf(level, format string, args ...any) {
	if level == "debug" && !logDebug {
		return
	}
	msg := fmt.Sprintf(format, args...)
	now := time.Now()
	if logJSON {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now.Format(time.RFC3339Nano)})
		fmt.Fprintf(logOut, "%s\n", b)
		return
	}
	// logrus's text format, as runc writes it: tools grep "level=error".
	fmt.Fprintf(logOut, "time=%q level=%s msg=%q\n", now.Format(time.RFC3339Nano), level, msg)
}

// fatal reports err as one line on stderr and exits 1, or with the status
// the error carries (126/127 when the container's program cannot be
// executed or is not found). With --log the line also goes to the log file
// (containerd reads the last "error" line there), as runc does.
func fatal(err error) {
	code := 1
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		code = coded.ExitCode()
	}
	fatalWithCode(err, code)
}

func fatalWithCode(err error, code int) {
	reportError(err)
	os.Exit(code)
}

// reportError prints err as fatal does, without exiting.
func reportError(err error) {
	msg := strings.TrimSpace(err.Error())
	if logToFile {
		logf("error", "%s", msg)
	}
	fmt.Fprintf(os.Stderr, "rt: %s\n", msg)
}
