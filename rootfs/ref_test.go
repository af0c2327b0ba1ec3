package rootfs

import "testing"

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                          "docker.io/library/busybox:latest",
		"busybox:1.36":                     "docker.io/library/busybox:1.36",
		"docker.io/library/busybox:latest": "docker.io/library/busybox:latest",
		"docker.io/busybox":                "docker.io/library/busybox:latest",
		"rt-fixture/layers":                "docker.io/rt-fixture/layers:latest",
		"quay.io/org/app:v1":               "quay.io/org/app:v1",
		"localhost/app":                    "localhost/app:latest",
		"registry:5000/app":                "registry:5000/app:latest",
		"registry:5000/app:2":              "registry:5000/app:2",
		"app@sha256:abcd":                  "docker.io/library/app@sha256:abcd",
	} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}
