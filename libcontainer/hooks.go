package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs each hook in order with the OCI state JSON on stdin, honouring
// its timeout. The first failure stops the list and is returned, worded as
// runc words it ("error running prestart hook #1: ..."): callers and runc's
// tests match that prefix.
func runHooks(kind string, hooks []specs.Hook, state *specs.State) error {
	return runHooksEnv(kind, hooks, state, nil)
}

// runHooksEnv is runHooks where a hook without env of its own gets
// defaultEnv (nil: an empty environment).
func runHooksEnv(kind string, hooks []specs.Hook, state *specs.State, defaultEnv []string) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, data, defaultEnv); err != nil {
			return hookError(kind, i, h, err)
		}
	}
	return nil
}

// runHooksWarn runs every hook, also after a failure, and hands each
// failure to warn.
func runHooksWarn(kind string, hooks []specs.Hook, state *specs.State, warn func(error)) {
	data, err := json.Marshal(state)
	if err != nil {
		warn(fmt.Errorf("%s hooks: %w", kind, err))
		return
	}
	for i, h := range hooks {
		if err := runHook(h, data, nil); err != nil {
			warn(hookError(kind, i, h, err))
		}
	}
}

func hookError(kind string, i int, h specs.Hook, err error) error {
	return fmt.Errorf("error running %s hook #%d: %s: %w", kind, i, h.Path, err)
}

func runHook(h specs.Hook, state []byte, defaultEnv []string) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	// Args[0] is the hook's argv[0] as given; the binary is always h.Path.
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = append([]string{}, defaultEnv...)
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := bytes.TrimSpace(out.Bytes()); len(msg) > 0 {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
