package jailfs

import (
	"io/fs"
	"path"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// maxHops is how many symbolic links resolve follows for one path, as
// Linux does.
const maxHops = 40

// checkLink reports whether a symbolic link at linkName (a path from
// wazero) with the given target would stay inside the jail for a host
// program that follows it: EPERM if not. The guest itself can never
// follow a link out (os.Root sees to that), but host tools, backups and
// people reading the folder can.
//
// A target that a host cannot resolve for the links it meets (a loop) is
// allowed. A target is refused when it is absolute, when it has ".." after a name
// ("a/.."; such a target climbs from wherever "a" resolves, which another
// link made later can change), or when resolving it from the link's
// folder, following the links already on the way as the host would,
// climbs above the jail's root. Leading ".." elements count against the
// depth of the link's folder, its real one, links resolved.
func (f *FS) checkLink(target, linkName string) experimentalsys.Errno {
	if strings.HasPrefix(target, "/") {
		return experimentalsys.EPERM
	}
	named := false
	for _, e := range strings.Split(target, "/") {
		switch e {
		case "", ".":
		case "..":
			if named {
				return experimentalsys.EPERM
			}
		default:
			named = true
		}
	}
	name := strings.TrimRight(rootName(linkName), "/")
	if name == "" || name == "." {
		return 0 // the root itself: the operation fails on its own
	}
	dir, errno := f.resolve(nil, path.Dir(name))
	if errno != 0 {
		return errno
	}
	_, errno = f.resolve(dir, target)
	if errno == experimentalsys.ELOOP {
		// Following the link never ends (a loop, or more links than a
		// host follows): it leads nowhere, so not out either. resolve
		// stops with EPERM at the first step out, before the hops run out.
		return 0
	}
	return errno
}

// resolve walks the slash path p from the jail folder at dir (a list of
// real path elements from the root) as the host would, following
// symbolic links, and returns the real path's elements. It fails with
// EPERM when the walk leads out of the jail: through ".." above the root
// or a link with an absolute target; with ELOOP past maxHops links. Where
// an element does not exist (or cannot be looked at), the rest of the path
// is applied by name only, as it would resolve once created as folders.
func (f *FS) resolve(dir []string, p string) ([]string, experimentalsys.Errno) {
	real := append([]string(nil), dir...)
	todo := strings.Split(p, "/")
	onDisk := true
	hops := 0
	for len(todo) > 0 {
		e := todo[0]
		todo = todo[1:]
		switch e {
		case "", ".":
			continue
		case "..":
			if len(real) == 0 {
				return nil, experimentalsys.EPERM
			}
			real = real[:len(real)-1]
			continue
		}
		real = append(real, e)
		if !onDisk {
			continue
		}
		at := path.Join(real...)
		fi, err := f.root.Lstat(at)
		if err != nil {
			onDisk = false
			continue
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if hops++; hops > maxHops {
			return nil, experimentalsys.ELOOP
		}
		target, err := f.root.Readlink(at)
		if err != nil {
			return nil, toErrno(err)
		}
		if strings.HasPrefix(target, "/") {
			return nil, experimentalsys.EPERM
		}
		real = real[:len(real)-1]
		todo = append(strings.Split(target, "/"), todo...)
	}
	return real, 0
}

// checkMove reports whether the entry at from, whose information is fi,
// may appear at to (a rename, or a hard link of a symbolic link) without
// a link in it leading out of the jail: EPERM if not. A link is checked
// as checkLink would check it anew at to; a folder is walked, and each
// link in it checked at its place under to. Other entries hold no link.
func (f *FS) checkMove(from, to string, fi fs.FileInfo) experimentalsys.Errno {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := f.root.Readlink(from)
		if err != nil {
			return toErrno(err)
		}
		return f.checkLink(target, to)
	case !fi.IsDir():
		return 0
	}
	// Walked by hand, as usage is: fs.WalkDir on root.FS() refuses names
	// that are not valid UTF-8.
	var walk func(dir, dest string) experimentalsys.Errno
	walk = func(dir, dest string) experimentalsys.Errno {
		d, err := f.root.Open(dir)
		if err != nil {
			return toErrno(err)
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return toErrno(err)
		}
		for _, e := range entries {
			p, q := path.Join(dir, e.Name()), path.Join(dest, e.Name())
			var errno experimentalsys.Errno
			switch {
			case e.IsDir():
				errno = walk(p, q)
			case e.Type()&fs.ModeSymlink != 0:
				if target, err := f.root.Readlink(p); err != nil {
					errno = toErrno(err)
				} else {
					errno = f.checkLink(target, q)
				}
			}
			// An entry removed meanwhile is not moved.
			if errno != 0 && errno != experimentalsys.ENOENT {
				return errno
			}
		}
		return 0
	}
	return walk(from, to)
}
