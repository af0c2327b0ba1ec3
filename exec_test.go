package main

import (
	"reflect"
	"testing"
)

// --cgroup as runc reads it: one PATH, or CONTROLLER[,CONTROLLER]:PATH.
func TestParseSubCgroups(t *testing.T) {
	for _, c := range []struct {
		args []string
		want map[string]string
		err  bool
	}{
		{nil, nil, false},
		{[]string{"sub"}, map[string]string{"": "sub"}, false},
		{[]string{"memory:a", "cpu,cpuacct:b"}, map[string]string{"memory": "a", "cpu": "b", "cpuacct": "b"}, false},
		{[]string{"a", "b"}, nil, true},
		{[]string{":a"}, nil, true},
		{[]string{"cpu:a", "cpu,memory:b"}, nil, true},
	} {
		got, err := parseSubCgroups(c.args)
		if (err != nil) != c.err || (!c.err && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%q: got %v, %v", c.args, got, err)
		}
	}
}
