package cgroups

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Every field of linux.resources has a unit that claims it: a field the
// spec adds fails here until a res_*.go handles it.
func TestHasLimitsCoversEveryResource(t *testing.T) {
	if HasLimits(nil) || HasLimits(&specs.LinuxResources{}) {
		t.Fatal("empty resources have limits")
	}
	typ := reflect.TypeOf(specs.LinuxResources{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		var r specs.LinuxResources
		v := reflect.ValueOf(&r).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
		case reflect.Map:
			m := reflect.MakeMap(f.Type)
			m.SetMapIndex(reflect.New(f.Type.Key()).Elem(), reflect.New(f.Type.Elem()).Elem())
			v.Set(m)
		default:
			t.Fatalf("linux.resources field %s: kind %s not handled by this test", f.Name, f.Type.Kind())
		}
		// Device rules alone are not limits (a rootless container may run
		// without a cgroup with them).
		if want := f.Name != "Devices"; HasLimits(&r) != want {
			t.Errorf("HasLimits with only %s set = %v, want %v", f.Name, !want, want)
		}
	}
}

func TestEveryResourceValidatesBothVersions(t *testing.T) {
	for i, res := range resources {
		// A unit that writes on a version must check it first; one that
		// only refuses (unified on v1, network on v2) validates alone.
		if res.setV1 != nil && res.validateV1 == nil {
			t.Errorf("resources[%d] writes on v1 without validating", i)
		}
		// Device rules are checked as they are built (deviceRules).
		if res.planV2 != nil && res.validateV2 == nil && res != &devicesResource {
			t.Errorf("resources[%d] writes on v2 without validating", i)
		}
	}
}
