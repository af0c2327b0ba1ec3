package libcontainer

// setnsInit runs a process in an existing container (`rt exec`). nsenter.c
// has joined its namespaces; joining the mount namespace also made its root
// ours. Everything about the process is set as for the init, without the
// rootfs steps and without waiting for start.
func setnsInit(sock *syncSocket, cfg *initConfig) error {
	spec := cfg.Spec
	if err := newSession(); err != nil {
		return err
	}
	if spec.Process.Terminal {
		if err := setupConsole(sock, false, spec.Process); err != nil {
			return err
		}
	}
	ex, err := prepareProcess(sock, spec, cfg.PreserveFds, true)
	if err != nil {
		return err
	}
	return ex.exec()
}
