package libcontainer

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlag is one entry of the OCI mount option table: set or clear a flag.
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags are the options that map to mount(2) flags (runtime-spec
// config.md "mounts", the same table as runc's parseMountOptions).
var mountFlags = map[string]mountFlag{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
}

// recAttrFlags are runc's recursive options: set or clear a mount
// attribute on the mount and every mount below it, with mount_setattr(2)
// after the mount (runc libcontainer/specconv recAttrFlags).
var recAttrFlags = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// propagationFlags are the propagation options, applied with a separate
// mount(2) call after the mount itself.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"shared":      unix.MS_SHARED,
	"slave":       unix.MS_SLAVE,
	"unbindable":  unix.MS_UNBINDABLE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parsedMount is a mount's options split into flags, propagation and the
// data string passed to the filesystem.
type parsedMount struct {
	flags       uintptr
	cleared     uintptr // flags an option clears ("rw", "dev", ...): a bind must not keep them
	propagation []uintptr
	data        string
	// recursive attributes ("rro", "rnosuid", ...) set and cleared with
	// mount_setattr(AT_RECURSIVE) once the mount is made
	recSet, recClr uint64
	copyUp         bool // "tmpcopyup": a tmpfs filled with the image's directory (copyup_linux.go)
}

func parseMountOptions(opts []string) parsedMount {
	var p parsedMount
	var data []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				p.flags &^= f.flag
				p.cleared |= f.flag
			} else {
				p.flags |= f.flag
				p.cleared &^= f.flag
			}
			continue
		}
		if f, ok := propagationFlags[o]; ok {
			p.propagation = append(p.propagation, f)
			continue
		}
		if f, ok := recAttrFlags[o]; ok {
			if f.clear {
				p.recSet &^= f.attr
				p.recClr |= f.attr
			} else {
				p.recClr &^= f.attr
				p.recSet |= f.attr
			}
			// The access-time values are an enum, not bits: mount_setattr(2)
			// takes one only with all of MOUNT_ATTR__ATIME cleared (EINVAL
			// otherwise), and clearing them all alone means relatime.
			if f.attr&unix.MOUNT_ATTR__ATIME == f.attr {
				p.recClr |= unix.MOUNT_ATTR__ATIME
			}
			continue
		}
		if o == "tmpcopyup" {
			p.copyUp = true
			continue
		}
		if o == "idmap" || o == "ridmap" {
			continue // mountIDMapping (idmap_linux.go)
		}
		data = append(data, o)
	}
	p.data = strings.Join(data, ",")
	return p
}

// checkMountOptions rejects the options rt knows it cannot honour, rather
// than silently ignoring a security-relevant one.
func checkMountOptions(typ string, opts []string) error {
	for _, o := range opts {
		switch o {
		case "tmpcopyup":
			if typ != "tmpfs" {
				return fmt.Errorf("%q: only for a tmpfs mount (type %q)", o, typ)
			}
		}
	}
	return nil
}
