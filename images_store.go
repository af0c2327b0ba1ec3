package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/imagestore"
	"github.com/rt-project/rt/rootfs"
)

// Glue of the image verbs (load, images, rmi, gc, run --image).

func openStore(c *cli.Context) (*imagestore.Store, error) {
	s, err := imagestore.Open(c.String("store"))
	if err != nil {
		return nil, err
	}
	s.Warn = func(msg string) { logf("warning", "rt: %s", msg) }
	return s, nil
}

// prepareImage makes the overlay rootfs of container id from image ref
// and writes the image's config.json (rootfs.RuntimeSpec, as rt import
// does) into the container's directory, its bundle.
func prepareImage(c *cli.Context, ref, root, id string, hasCmd bool) (*imagestore.Container, error) {
	s, err := openStore(c)
	if err != nil {
		return nil, err
	}
	ct, err := s.Prepare(ref, root, id)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*imagestore.Container, error) {
		_ = ct.Remove()
		ct.Unlock()
		return nil, err
	}
	spec, err := rootfs.RuntimeSpec(ct.Rootfs, ct.Config, rootfs.SpecOptions{Warn: warn})
	if err != nil {
		return fail(fmt.Errorf("image %q: %w", ref, err))
	}
	if len(spec.Process.Args) == 0 && !hasCmd {
		return fail(fmt.Errorf("image %q has no Entrypoint or Cmd: give a command after -- (rt %s --image %s %s -- COMMAND)", ref, c.Command.Name, ref, id))
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(ct.Dir, "config.json"), append(b, '\n'), 0o600); err != nil {
		return fail(err)
	}
	return ct, nil
}
