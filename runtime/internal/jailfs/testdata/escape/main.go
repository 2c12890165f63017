// Command escape is a WASI guest that tries to reach files outside its
// granted directory, and does legitimate work inside it.
//
// Its only argument is the guest path of the granted directory ("/data" or
// "/"), which is also the first pre-opened directory (fd 3). The directory
// holds the host-made tree of jailfs's escape tests: inside.txt, victim.txt,
// deep/, and symbolic links pointing out of it.
//
// It prints one line per attempt, "name: ok <result>" or
// "name: denied <error>", then "done". Attempts whose name starts with
// "legit " must succeed; every other one must be denied.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// preopenFD is the descriptor of the first pre-opened directory.
const preopenFD = 3

// WASI preview1 flags used by the raw calls.
const (
	lookupSymlinkFollow = 1 << 0
	oflagDirectory      = 1 << 1
	rightFDRead         = 1 << 1
)

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(fd int32, dirflags int32, path unsafe.Pointer, pathLen int32, oflags int32, rightsBase int64, rightsInheriting int64, fdflags int32, result unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 path_rename
func pathRename(fd int32, oldPath unsafe.Pointer, oldLen int32, newFD int32, newPath unsafe.Pointer, newLen int32) int32

//go:wasmimport wasi_snapshot_preview1 path_link
func pathLink(oldFD int32, oldFlags int32, oldPath unsafe.Pointer, oldLen int32, newFD int32, newPath unsafe.Pointer, newLen int32) int32

//go:wasmimport wasi_snapshot_preview1 path_create_directory
func pathCreateDirectory(fd int32, path unsafe.Pointer, pathLen int32) int32

//go:wasmimport wasi_snapshot_preview1 path_symlink
func pathSymlink(oldPath unsafe.Pointer, oldLen int32, fd int32, newPath unsafe.Pointer, newLen int32) int32

// wasiError converts a WASI errno to an error.
func wasiError(errno int32) error {
	if errno == 0 {
		return nil
	}
	return fmt.Errorf("wasi errno %d", errno)
}

// ptr returns the address and length of s for a raw call. The string must
// stay reachable until the call returns, which holds for arguments.
func ptr(s string) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.StringData(s)), int32(len(s))
}

// rawOpen opens path relative to the directory descriptor dir without any
// cleaning by the Go runtime, following symbolic links.
func rawOpen(dir int32, path string, oflags int32) (int32, error) {
	var fd int32
	p, n := ptr(path)
	errno := pathOpen(dir, lookupSymlinkFollow, p, n, oflags, rightFDRead, rightFDRead, 0, unsafe.Pointer(&fd))
	return fd, wasiError(errno)
}

// rawRead reads the file at path relative to dir.
func rawRead(dir int32, path string) (string, error) {
	fd, err := rawOpen(dir, path, 0)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: escape <granted dir>")
		os.Exit(2)
	}
	base := os.Args[1]
	in := func(name string) string {
		return strings.TrimSuffix(base, "/") + "/" + name
	}
	readIn := func(name string) (string, error) {
		b, err := os.ReadFile(in(name))
		return string(b), err
	}

	attempts := []struct {
		name string
		do   func() (string, error)
	}{
		// Reading outside by path.
		{"read ../secret.txt", func() (string, error) {
			b, err := os.ReadFile("../secret.txt")
			return string(b), err
		}},
		{"read /../secret.txt", func() (string, error) {
			b, err := os.ReadFile("/../secret.txt")
			return string(b), err
		}},
		{"read base/../secret.txt", func() (string, error) { return readIn("../secret.txt") }},
		{"read deep/../../secret.txt", func() (string, error) { return readIn("deep/../../secret.txt") }},
		{"raw read ../secret.txt", func() (string, error) { return rawRead(preopenFD, "../secret.txt") }},
		{"raw read /../secret.txt", func() (string, error) { return rawRead(preopenFD, "/../secret.txt") }},
		{"raw read deep/../../secret.txt", func() (string, error) { return rawRead(preopenFD, "deep/../../secret.txt") }},

		// Reading outside through host-made links.
		{"read link-up/secret.txt", func() (string, error) { return readIn("link-up/secret.txt") }},
		{"read link-secret", func() (string, error) { return readIn("link-secret") }},
		{"read link-abs", func() (string, error) { return readIn("link-abs") }},
		{"read link-abs-secret", func() (string, error) { return readIn("link-abs-secret") }},
		{"read deep/link-dotdot/etc/passwd", func() (string, error) { return readIn("deep/link-dotdot/etc/passwd") }},
		{"raw read link-up/secret.txt", func() (string, error) { return rawRead(preopenFD, "link-up/secret.txt") }},
		{"raw read link-secret via dir fd", func() (string, error) {
			dir, err := rawOpen(preopenFD, ".", oflagDirectory)
			if err != nil {
				return "", err
			}
			defer os.NewFile(uintptr(dir), ".").Close()
			return rawRead(dir, "link-secret")
		}},
		{"stat link-up/secret.txt", func() (string, error) {
			fi, err := os.Stat(in("link-up/secret.txt"))
			if err != nil {
				return "", err
			}
			return fmt.Sprint(fi.Size()), nil
		}},
		{"list link-up", func() (string, error) { return list(in("link-up")) }},
		{"list deep/link-dotdot", func() (string, error) { return list(in("deep/link-dotdot")) }},

		// Writing outside through host-made links.
		{"write link-secret", func() (string, error) {
			return "", os.WriteFile(in("link-secret"), []byte("pwned"), 0o644)
		}},
		{"create link-up/out.txt", func() (string, error) {
			return "", os.WriteFile(in("link-up/out.txt"), []byte("pwned"), 0o644)
		}},
		{"chtimes link-secret", func() (string, error) {
			return "", os.Chtimes(in("link-secret"), time.Unix(1, 0), time.Unix(1, 0))
		}},
		{"rename to link-up/out.txt", func() (string, error) {
			return "", os.Rename(in("victim.txt"), in("link-up/out.txt"))
		}},
		{"link to link-up/out.txt", func() (string, error) {
			return "", os.Link(in("victim.txt"), in("link-up/out.txt"))
		}},
		{"mkdir link-up/x", func() (string, error) { return "", os.Mkdir(in("link-up/x"), 0o755) }},
		{"symlink at link-up/evil", func() (string, error) { return "", os.Symlink("x", in("link-up/evil")) }},

		// Raw calls with escaping paths, never cleaned by the Go runtime.
		{"raw rename to ../out.txt", func() (string, error) {
			op, on := ptr("victim.txt")
			np, nn := ptr("../out.txt")
			return "", wasiError(pathRename(preopenFD, op, on, preopenFD, np, nn))
		}},
		{"raw link to ../out.txt", func() (string, error) {
			op, on := ptr("victim.txt")
			np, nn := ptr("../out.txt")
			return "", wasiError(pathLink(preopenFD, 0, op, on, preopenFD, np, nn))
		}},
		{"raw mkdir ../x", func() (string, error) {
			p, n := ptr("../x")
			return "", wasiError(pathCreateDirectory(preopenFD, p, n))
		}},
		{"raw symlink at ../evil", func() (string, error) {
			op, on := ptr("x")
			np, nn := ptr("../evil")
			return "", wasiError(pathSymlink(op, on, preopenFD, np, nn))
		}},

		// Links made by the guest itself that would lead out: creating
		// them is refused, and so is moving a link (or a folder holding
		// one) to where it would lead out.
		{"guest link mine -> /etc/passwd", func() (string, error) { return symlinkThenRead("/etc/passwd", in("mine")) }},
		{"guest link mine2 -> ../../secret.txt", func() (string, error) { return symlinkThenRead("../../secret.txt", in("mine2")) }},
		{"guest link mine3 -> ../secret.txt", func() (string, error) { return symlinkThenRead("../secret.txt", in("mine3")) }},
		{"guest link deep/mine4 -> ../../secret.txt", func() (string, error) { return symlinkThenRead("../../secret.txt", in("deep/mine4")) }},
		{"guest link mine5 -> deep/../..", func() (string, error) { return symlinkThenRead("deep/../..", in("mine5")) }},
		{"guest link mine6 -> link-up/secret.txt", func() (string, error) { return symlinkThenRead("link-up/secret.txt", in("mine6")) }},
		{"guest link l3 -> /", func() (string, error) { return symlinkThenRead("/", in("l3")) }},
		{"raw guest link -> /", func() (string, error) {
			op, on := ptr("/")
			np, nn := ptr("l4")
			return "", wasiError(pathSymlink(op, on, preopenFD, np, nn))
		}},
		{"rename a folder holding a climbing link up", func() (string, error) {
			if err := os.MkdirAll(in("m/n"), 0o755); err != nil {
				return "", fmt.Errorf("setup: %v", err)
			}
			if err := os.Symlink("../../inside.txt", in("m/n/up")); err != nil {
				return "", fmt.Errorf("setup: %v", err)
			}
			return "", os.Rename(in("m/n"), in("n"))
		}},
		{"rename a climbing link up", func() (string, error) { return "", os.Rename(in("m/n/up"), in("up")) }},
		{"hard-link a climbing link up", func() (string, error) { return "", os.Link(in("m/n/up"), in("up")) }},

		// Legitimate work inside the jail.
		{"legit read inside.txt", func() (string, error) { return readIn("inside.txt") }},
		{"legit write hello.txt", func() (string, error) {
			if err := os.WriteFile(in("hello.txt"), []byte("hello"), 0o644); err != nil {
				return "", err
			}
			return readIn("hello.txt")
		}},
		{"legit mkdir newdir", func() (string, error) { return "", os.Mkdir(in("newdir"), 0o755) }},
		{"legit rename into newdir", func() (string, error) {
			if err := os.Rename(in("hello.txt"), in("newdir/moved.txt")); err != nil {
				return "", err
			}
			return readIn("newdir/moved.txt")
		}},
		{"legit symlink inside", func() (string, error) {
			if err := os.Symlink("moved.txt", in("newdir/link")); err != nil {
				return "", err
			}
			return readIn("newdir/link")
		}},
		{"legit symlink up inside", func() (string, error) {
			if err := os.Symlink("../newdir/moved.txt", in("deep/up")); err != nil {
				return "", err
			}
			return readIn("deep/up")
		}},
		{"legit symlink climbing as deep as it is", func() (string, error) {
			if err := os.Symlink("../../inside.txt", in("m/n/up2")); err != nil {
				return "", err
			}
			return readIn("m/n/up2")
		}},
		{"legit rename a folder holding a climbing link aside", func() (string, error) {
			if err := os.Rename(in("m/n"), in("m/o")); err != nil {
				return "", err
			}
			return readIn("m/o/up2")
		}},
		{"legit readlink link-abs", func() (string, error) { return os.Readlink(in("link-abs")) }},
		{"legit lstat link-up", func() (string, error) {
			fi, err := os.Lstat(in("link-up"))
			if err != nil {
				return "", err
			}
			if fi.Mode()&os.ModeSymlink == 0 {
				return "", fmt.Errorf("mode %v, want a symbolic link", fi.Mode())
			}
			return fi.Mode().String(), nil
		}},
		{"legit list", func() (string, error) { return list(base) }},
		{"legit list many", func() (string, error) {
			// More entries than one fd_readdir call returns.
			if err := os.Mkdir(in("many"), 0o755); err != nil {
				return "", err
			}
			for i := range 500 {
				if err := os.WriteFile(in(fmt.Sprintf("many/file-%03d", i)), nil, 0o644); err != nil {
					return "", err
				}
			}
			entries, err := os.ReadDir(in("many"))
			if err != nil {
				return "", err
			}
			return fmt.Sprint(len(entries)), os.RemoveAll(in("many"))
		}},
		{"legit append", func() (string, error) {
			for _, s := range []string{"a", "b"} {
				f, err := os.OpenFile(in("log.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				if err != nil {
					return "", err
				}
				_, err = f.WriteString(s)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return "", err
				}
			}
			return readIn("log.txt")
		}},
		{"legit seek and readat", func() (string, error) {
			f, err := os.Open(in("newdir/moved.txt"))
			if err != nil {
				return "", err
			}
			defer f.Close()
			if _, err := f.Seek(1, io.SeekStart); err != nil {
				return "", err
			}
			b := make([]byte, 2)
			if _, err := io.ReadFull(f, b); err != nil {
				return "", err
			}
			c := make([]byte, 2)
			if _, err := f.ReadAt(c, 3); err != nil {
				return "", err
			}
			return string(b) + string(c), nil
		}},
		{"legit truncate", func() (string, error) {
			if err := os.Truncate(in("newdir/moved.txt"), 2); err != nil {
				return "", err
			}
			return readIn("newdir/moved.txt")
		}},
		{"legit chtimes", func() (string, error) {
			mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			if err := os.Chtimes(in("inside.txt"), mtime, mtime); err != nil {
				return "", err
			}
			fi, err := os.Stat(in("inside.txt"))
			if err != nil {
				return "", err
			}
			if !fi.ModTime().Equal(mtime) {
				return "", fmt.Errorf("mtime %v, want %v", fi.ModTime(), mtime)
			}
			return fi.ModTime().UTC().Format(time.RFC3339), nil
		}},
		{"legit os.Root through symlink", func() (string, error) {
			root, err := os.OpenRoot(base)
			if err != nil {
				return "", err
			}
			defer root.Close()
			b, err := root.ReadFile("newdir/link")
			return string(b), err
		}},
		{"legit raw read via dir fd", func() (string, error) {
			dir, err := rawOpen(preopenFD, ".", oflagDirectory)
			if err != nil {
				return "", err
			}
			defer os.NewFile(uintptr(dir), ".").Close()
			return rawRead(dir, "inside.txt")
		}},
		{"legit remove", func() (string, error) {
			if err := os.Remove(in("log.txt")); err != nil {
				return "", err
			}
			if err := os.RemoveAll(in("newdir")); err != nil {
				return "", err
			}
			_, err := os.Stat(in("newdir"))
			if !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("stat after RemoveAll: %v", err)
			}
			return "", nil
		}},
	}

	for _, a := range attempts {
		out, err := a.do()
		if err != nil {
			fmt.Printf("%s: denied %v\n", a.name, err)
		} else {
			fmt.Printf("%s: ok %q\n", a.name, out)
		}
	}
	fmt.Println("done")
}

// symlinkThenRead makes a symbolic link and reads through it.
func symlinkThenRead(target, link string) (string, error) {
	if err := os.Symlink(target, link); err != nil {
		return "", err
	}
	b, err := os.ReadFile(link)
	return string(b), err
}

// list returns the sorted names in dir, joined by commas.
func list(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return strings.Join(names, ","), nil
}
