// Package rootfs turns an image archive into an OCI bundle: archive ->
// image -> layers applied onto a directory -> config.json. It is what
// `rt import` runs, and a library:
//
//	a, _ := rootfs.ReadArchive(ctx, f, spoolDir)
//	img, _ := a.Image("")                   // or a tag or ID
//	_ = img.Unpack(ctx, dir, rootfs.UnpackOptions{})
//	spec, _ := rootfs.RuntimeSpec(dir, &img.Config, rootfs.SpecOptions{})
//
// or all at once, atomically, with Import.
//
// # Formats
//
// Detected by content: an archive with manifest.json is a docker save
// (legacy <id>/layer.tar, or Docker 25+ whose manifest.json points into an
// OCI layout's blobs/); one with only index.json is an OCI image layout,
// where a multi-platform index gives linux/<this arch>. Layers are tar,
// gzip or zstd, told apart by their magic bytes.
//
// # Why not go-containerregistry's tarball and layout readers
//
// The archive must be read once and may be a pipe. ggcr's tarball.Image
// re-opens the archive for every file it wants (random access), and
// layout.FromPath needs the layout extracted to a directory: copying the
// archive to disk first is what the import must not do. So the outer tar is
// indexed here (archive.go) and each member read in place by
// offset; from a pipe the layers are spooled beside the bundle because
// every format writes the layer order (manifest.json, index.json) after the
// layers. The formats themselves come from well-kept packages: the OCI
// types of image-spec, digests of go-digest (verified while streaming, over
// the stored blob against the manifest and over the uncompressed tar
// against the config's diff_ids), tag normalization of
// distribution/reference, gzip and zstd of klauspost/compress.
//
// # Why a small layer applier of our own
//
// Layer application (layer.go) follows umoci's oci/layer and containerd's
// archive: whiteouts (.wh.NAME, .wh..wh..opq applied to lower layers only,
// wherever the marker sits), hardlinks kept as one inode, symlinks verbatim,
// devices, owners, special mode bits, xattrs, mtimes (directories last).
// Containment is the kernel's: every parent directory is opened with
// openat2(RESOLVE_IN_ROOT) (filepath-securejoin's pathrs-lite where openat2
// is missing), the leaf is handled with *at syscalls that never follow a
// symlink, and a layer may not change the type of the root
// (CVE-2021-29136). moby/go-archive works through os.Root, which has no
// xattr or mknod call (it sets xattrs by absolute path) and will not
// resolve through an absolute symlink, which images have (/var/run ->
// /run); umoci's oci/layer brings its own logging, go-mtree and rootless
// machinery; containerd's archive pulls the whole containerd module. What
// is left is one file, tested directly, hostile layers included.
package rootfs
