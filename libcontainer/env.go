package libcontainer

import "strings"

// processEnv is the environment the process is started with, as runc's
// prepareEnv makes it (callers such as Docker rely on it): a variable set
// more than once keeps its last value, in the place of its last occurrence;
// an empty HOME counts as unset, and an unset HOME is the user's home from
// the container's /etc/passwd ("/" without one) given by home.
func processEnv(env []string, home func() string) []string {
	out := make([]string, 0, len(env)+1)
	seen := make(map[string]bool, len(env))
	hasHome := false
	for i := len(env) - 1; i >= 0; i-- {
		kv := env[i]
		key, val, _ := strings.Cut(kv, "=")
		if seen[key] {
			continue
		}
		seen[key] = true
		if key == "HOME" {
			if val == "" {
				continue
			}
			hasHome = true
		}
		out = append(out, kv)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if !hasHome {
		out = append(out, "HOME="+home())
	}
	return out
}
