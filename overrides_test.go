package main

import (
	"reflect"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestEnvFlag(t *testing.T) {
	t.Setenv("RT_TEST_HOSTVAR", "v")
	got, err := envFlag([]string{"A=1", "B=a,b", "C=", "RT_TEST_HOSTVAR"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "B=a,b", "C=", "RT_TEST_HOSTVAR=v"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"=x", "RT_TEST_SURELY_UNSET"} {
		if _, err := envFlag([]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMergeEnvReplaces(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "X=old"}, []string{"X=new", "Y=1"})
	if want := []string{"PATH=/bin", "X=new", "Y=1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseUser(t *testing.T) {
	umask := uint32(0o027)
	base := specs.User{UID: 0, GID: 5, AdditionalGids: []uint32{1, 2}, Umask: &umask}
	u, err := parseUser("1000", base)
	if err != nil || u.UID != 1000 || u.GID != 5 || u.AdditionalGids != nil || u.Umask != &umask {
		t.Fatalf("1000: %+v %v", u, err)
	}
	if u, err = parseUser("1000:1001", base); err != nil || u.GID != 1001 {
		t.Fatalf("1000:1001: %+v %v", u, err)
	}
	for _, bad := range []string{"bob", "1:x", ""} {
		if _, err := parseUser(bad, base); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
