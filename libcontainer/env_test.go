package libcontainer

import (
	"reflect"
	"testing"
)

func TestProcessEnv(t *testing.T) {
	home := func() string { return "/root" }
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"PATH=/bin", "HOME=/override"}, []string{"PATH=/bin", "HOME=/override"}},
		{[]string{"PATH=/bin"}, []string{"PATH=/bin", "HOME=/root"}},
		{[]string{"HOME=", "PATH=/bin"}, []string{"PATH=/bin", "HOME=/root"}},
		{[]string{"HOME=/override", "HOME="}, []string{"HOME=/root"}},
		{[]string{"HOME=", "HOME=/x"}, []string{"HOME=/x"}},
		{[]string{"ONE=two", "ONE=", "PATH=/bin"}, []string{"ONE=", "PATH=/bin", "HOME=/root"}},
		{[]string{"ONE=two", "A=1", "ONE=three"}, []string{"A=1", "ONE=three", "HOME=/root"}},
		{[]string{"NL=\n", "HOME=/h"}, []string{"NL=\n", "HOME=/h"}},
	} {
		if got := processEnv(tc.in, home); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("processEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
