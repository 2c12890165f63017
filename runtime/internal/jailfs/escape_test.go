package jailfs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime/internal/jailfs"
)

// secretMarker is in every host file outside the jail of an escape tree.
const secretMarker = "TOP-SECRET"

// escapeTree is a host directory tree with a jail whose links point out:
//
//	top/
//	  etc/passwd                 secret
//	  outer/
//	    secret.txt               secret
//	    jail/                    granted to the guest
//	      inside.txt, victim.txt
//	      link-up         -> ..
//	      link-abs        -> /etc/passwd
//	      link-abs-secret -> top/outer/secret.txt, absolute
//	      link-secret     -> ../secret.txt
//	      deep/link-dotdot -> ../../..   (top)
type escapeTree struct {
	top, jail string
}

func newEscapeTree(t testing.TB) escapeTree {
	t.Helper()
	top := t.TempDir()
	tree := escapeTree{top: top, jail: filepath.Join(top, "outer", "jail")}
	files := map[string]string{
		"etc/passwd":            secretMarker + " passwd",
		"outer/secret.txt":      secretMarker + " secret.txt",
		"outer/jail/inside.txt": "inside",
		"outer/jail/victim.txt": "victim",
	}
	for name, content := range files {
		p := filepath.Join(top, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(tree.jail, "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link-up":          "..",
		"link-abs":         "/etc/passwd",
		"link-abs-secret":  filepath.Join(top, "outer", "secret.txt"),
		"link-secret":      "../secret.txt",
		"deep/link-dotdot": "../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tree.jail, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// outside returns a snapshot of everything outside the jail.
func (tree escapeTree) outside(t testing.TB) string {
	t.Helper()
	return snapshot(t, tree.top, "outer/jail")
}

// snapshot describes the tree at root without following links: names,
// types, permissions, modification times, file contents and link targets.
// The subtree at the slash-separated path skip, if not empty, is left out.
func snapshot(t testing.TB, root, skip string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != "" && rel == skip {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d", rel, fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			content, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", content)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %q", target)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestEscapeDirect calls the FS directly with paths that try to leave the
// jail. Every attempt must fail and leave the outside untouched.
func TestEscapeDirect(t *testing.T) {
	t.Parallel()
	tree := newEscapeTree(t)
	before := tree.outside(t)
	jail, err := jailfs.New(tree.jail, false)
	if err != nil {
		t.Fatal(err)
	}
	defer jail.Close()

	// Guest-made links that would point out are refused.
	for link, target := range map[string]string{"mine": "/etc/passwd", "mine2": "../../secret.txt", "deep/mine3": "../../secret.txt"} {
		if errno := jail.Symlink(target, link); errno != experimentalsys.EPERM {
			t.Errorf("Symlink(%q, %q): %v, want EPERM", target, link, errno)
		}
		if _, err := os.Lstat(filepath.Join(tree.jail, filepath.FromSlash(link))); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it missing", link, err)
		}
	}

	// links are entries of the jail pointing out: following them must fail,
	// though the entries themselves are the guest's. beyond are paths whose
	// final entry is itself outside the jail.
	links := []string{
		"link-up",
		"link-secret",
		"link-abs",
		"link-abs-secret",
		"deep/link-dotdot",
	}
	beyond := []string{
		"..",
		"../secret.txt",
		"/../secret.txt",
		"deep/../../secret.txt",
		"../jail/../secret.txt",
		"link-up/",
		"link-up/secret.txt",
		"link-up/jail/link-up/secret.txt",
		"deep/link-dotdot/",
		"deep/link-dotdot/etc/passwd",
	}
	newPaths := []string{
		"../out.txt",
		"/../out.txt",
		"deep/../../out.txt",
		"link-up/out.txt",
		"deep/link-dotdot/out.txt",
	}

	type attempt struct {
		name string
		op   func() experimentalsys.Errno
	}
	var attempts []attempt
	add := func(name string, op func() experimentalsys.Errno) {
		attempts = append(attempts, attempt{name, op})
	}
	for _, p := range slices.Concat(links, beyond) {
		for _, flag := range []experimentalsys.Oflag{
			experimentalsys.O_RDONLY,
			experimentalsys.O_RDONLY | experimentalsys.O_DIRECTORY,
			experimentalsys.O_WRONLY,
			experimentalsys.O_RDWR | experimentalsys.O_CREAT | experimentalsys.O_TRUNC,
			experimentalsys.O_WRONLY | experimentalsys.O_APPEND,
		} {
			add(fmt.Sprintf("open %q flag %#x", p, flag), func() experimentalsys.Errno {
				f, errno := jail.OpenFile(p, flag, 0o644)
				if errno == 0 {
					defer f.Close()
					buf := make([]byte, 256)
					n, _ := f.Read(buf)
					entries, _ := f.Readdir(100)
					t.Logf("read %q, entries %v", buf[:n], entries)
				}
				return errno
			})
		}
		add("stat "+p, func() experimentalsys.Errno { _, errno := jail.Stat(p); return errno })
		add("chmod "+p, func() experimentalsys.Errno { return jail.Chmod(p, 0o777) })
		add("utimens "+p, func() experimentalsys.Errno { return jail.Utimens(p, 0, 0) })
	}
	for _, p := range beyond {
		add("lstat "+p, func() experimentalsys.Errno { _, errno := jail.Lstat(p); return errno })
		add("readlink "+p, func() experimentalsys.Errno { _, errno := jail.Readlink(p); return errno })
		add("unlink "+p, func() experimentalsys.Errno { return jail.Unlink(p) })
		add("rmdir "+p, func() experimentalsys.Errno { return jail.Rmdir(p) })
		add("rename from "+p, func() experimentalsys.Errno { return jail.Rename(p, "stolen") })
		add("link from "+p, func() experimentalsys.Errno { return jail.Link(p, "stolen") })
	}
	for _, p := range newPaths {
		add("create "+p, func() experimentalsys.Errno {
			f, errno := jail.OpenFile(p, experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o644)
			if errno == 0 {
				f.Close()
			}
			return errno
		})
		add("mkdir "+p, func() experimentalsys.Errno { return jail.Mkdir(p, 0o755) })
		add("symlink at "+p, func() experimentalsys.Errno { return jail.Symlink("x", p) })
		add("rename to "+p, func() experimentalsys.Errno { return jail.Rename("victim.txt", p) })
		add("link to "+p, func() experimentalsys.Errno { return jail.Link("victim.txt", p) })
	}

	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			if errno := a.op(); errno == 0 {
				t.Error("succeeded")
			}
		})
	}
	if after := tree.outside(t); after != before {
		t.Errorf("outside of the jail changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := os.Lstat(filepath.Join(tree.jail, "stolen")); !os.IsNotExist(err) {
		t.Errorf("stolen: %v, want it missing", err)
	}

	// The links themselves are inside and remain usable as links.
	if target, errno := jail.Readlink("link-abs"); errno != 0 || target != "/etc/passwd" {
		t.Errorf("Readlink(link-abs) = %q, %v", target, errno)
	}
	if st, errno := jail.Lstat("link-up"); errno != 0 || st.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(link-up) = %v, %v", st.Mode, errno)
	}
}

// TestEscapeGuest runs testdata/escape, a real WASI guest, against the jail
// mounted at "/data" and at "/".
func TestEscapeGuest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := wasmtest.Build(t, "testdata/escape")

	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}

	// Results of legitimate attempts, as the guest quotes them.
	wantLegit := map[string]string{
		"legit read inside.txt":                               `"inside"`,
		"legit write hello.txt":                               `"hello"`,
		"legit rename into newdir":                            `"hello"`,
		"legit symlink inside":                                `"hello"`,
		"legit symlink up inside":                             `"hello"`,
		"legit readlink link-abs":                             `"/etc/passwd"`,
		"legit append":                                        `"ab"`,
		"legit seek and readat":                               `"ello"`,
		"legit truncate":                                      `"he"`,
		"legit os.Root through symlink":                       `"he"`,
		"legit raw read via dir fd":                           `"inside"`,
		"legit chtimes":                                       `"2001-02-03T04:05:06Z"`,
		"legit symlink climbing as deep as it is":             `"inside"`,
		"legit rename a folder holding a climbing link aside": `"inside"`,
	}
	// Denials that must come from the link checks themselves (EPERM,
	// WASI errno 63), not from a later step.
	wantEPERM := []string{
		"guest link mine -> /etc/passwd",
		"guest link mine2 -> ../../secret.txt",
		"guest link mine3 -> ../secret.txt",
		"guest link deep/mine4 -> ../../secret.txt",
		"guest link mine5 -> deep/../..",
		"guest link mine6 -> link-up/secret.txt",
		"guest link l3 -> /",
		"raw guest link -> /",
		"rename a folder holding a climbing link up",
		"rename a climbing link up",
		"hard-link a climbing link up",
	}

	for _, mount := range []string{"/data", "/"} {
		t.Run(mount, func(t *testing.T) {
			t.Parallel()
			tree := newEscapeTree(t)
			before := tree.outside(t)
			jail, err := jailfs.New(tree.jail, false)
			if err != nil {
				t.Fatal(err)
			}
			defer jail.Close()

			var stdout, stderr bytes.Buffer
			cfg := wazero.NewModuleConfig().
				WithName("escape"+mount).
				WithArgs("escape", mount).
				WithStdout(&stdout).
				WithStderr(&stderr).
				WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(jail, mount))
			mod, err := r.InstantiateModule(ctx, compiled, cfg)
			if err != nil {
				t.Fatalf("guest failed: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			mod.Close(ctx)

			out := stdout.String()
			t.Logf("guest output:\n%s", out)
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", &stderr)
			}
			if strings.Contains(out, secretMarker) || strings.Contains(out, "root:") {
				t.Errorf("guest output holds secret content")
			}

			var escapes, legit, eperm int
			done := false
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				line := sc.Text()
				if line == "done" {
					done = true
					continue
				}
				name, result, ok := strings.Cut(line, ": ")
				if !ok {
					t.Errorf("malformed line %q", line)
					continue
				}
				status, value, _ := strings.Cut(result, " ")
				if strings.HasPrefix(name, "legit ") {
					legit++
					if status != "ok" {
						t.Errorf("%s: %s, want ok", name, result)
					} else if want, ok := wantLegit[name]; ok && value != want {
						t.Errorf("%s: got %s, want %s", name, value, want)
					}
					continue
				}
				escapes++
				if status != "denied" {
					t.Errorf("%s: %s, want denied", name, result)
				}
				if slices.Contains(wantEPERM, name) {
					if v := strings.ToLower(value); !strings.Contains(v, "operation not permitted") && !strings.Contains(v, "wasi errno 63") {
						t.Errorf("%s: %s, want EPERM", name, result)
					}
					eperm++
				}
			}
			if !done {
				t.Error("guest did not finish")
			}
			if escapes < 30 || legit < len(wantLegit) || eperm != len(wantEPERM) {
				t.Errorf("%d escape, %d legitimate and %d EPERM attempts, want at least 30, %d and %d", escapes, legit, eperm, len(wantLegit), len(wantEPERM))
			}
			hostMade := []string{"link-up", "link-abs", "link-abs-secret", "link-secret", "deep/link-dotdot"}
			checkGuestLinks(t, tree.jail, hostMade)

			if after := tree.outside(t); after != before {
				t.Errorf("outside of the jail changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if got := readHost(t, filepath.Join(tree.jail, "victim.txt")); got != "victim" {
				t.Errorf("victim.txt = %q", got)
			}
		})
	}
}

// TestSymlinkStaysInside checks that the guest cannot leave a symbolic link
// that a host program following it would see lead out of the jail: not by
// creating one, nor by moving or hard-linking one (or a folder holding one)
// to where it would, while links that stay inside are made and moved.
func TestSymlinkStaysInside(t *testing.T) {
	t.Parallel()
	tree := newEscapeTree(t)
	jail, err := jailfs.New(tree.jail, false)
	if err != nil {
		t.Fatal(err)
	}
	defer jail.Close()
	must := func(what string, errno experimentalsys.Errno) {
		t.Helper()
		if errno != 0 {
			t.Fatalf("%s: %v", what, errno)
		}
	}
	must("mkdir a", jail.Mkdir("a", 0o755))
	must("mkdir a/b", jail.Mkdir("a/b", 0o755))
	must("symlink here -> .", jail.Symlink(".", "here"))

	steps := []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		// Creating.
		{"to /", func() experimentalsys.Errno { return jail.Symlink("/", "l") }, experimentalsys.EPERM},
		{"to /etc/passwd", func() experimentalsys.Errno { return jail.Symlink("/etc/passwd", "l") }, experimentalsys.EPERM},
		{"to an absolute path inside", func() experimentalsys.Errno { return jail.Symlink(tree.jail+"/inside.txt", "l") }, experimentalsys.EPERM},
		{"up from the root", func() experimentalsys.Errno { return jail.Symlink("..", "l") }, experimentalsys.EPERM},
		{"up twice from depth one", func() experimentalsys.Errno { return jail.Symlink("../..", "deep/l") }, experimentalsys.EPERM},
		{"up three times from depth two", func() experimentalsys.Errno { return jail.Symlink("../../../secret.txt", "a/b/l") }, experimentalsys.EPERM},
		{"up after a name", func() experimentalsys.Errno { return jail.Symlink("deep/../..", "l") }, experimentalsys.EPERM},
		{"up after a name, even inside", func() experimentalsys.Errno { return jail.Symlink("a/../inside.txt", "l") }, experimentalsys.EPERM},
		{"through a host link that leads out", func() experimentalsys.Errno { return jail.Symlink("link-up/secret.txt", "l") }, experimentalsys.EPERM},
		{"through a host link that leads out, deeper", func() experimentalsys.Errno { return jail.Symlink("link-dotdot/etc/passwd", "deep/l") }, experimentalsys.EPERM},
		{"in a folder reached through a link", func() experimentalsys.Errno { return jail.Symlink("..", "here/l") }, experimentalsys.EPERM},
		{"named with a trailing slash", func() experimentalsys.Errno { return jail.Symlink("..", "l/") }, experimentalsys.EPERM},
		{"up from depth one", func() experimentalsys.Errno { return jail.Symlink("..", "deep/up") }, 0},
		{"up and down from depth two", func() experimentalsys.Errno { return jail.Symlink("../../inside.txt", "a/b/up2") }, 0},
		{"down", func() experimentalsys.Errno { return jail.Symlink("./deep/up", "down") }, 0},
		{"dangling, down", func() experimentalsys.Errno { return jail.Symlink("missing/x", "dangling") }, 0},
		{"to itself", func() experimentalsys.Errno { return jail.Symlink("self", "self") }, 0},

		// Moving: a/b/up2 climbs two levels, so a/b must stay two deep.
		{"rename the folder up", func() experimentalsys.Errno { return jail.Rename("a/b", "b") }, experimentalsys.EPERM},
		{"rename the folder through a link", func() experimentalsys.Errno { return jail.Rename("a/b", "here/b") }, experimentalsys.EPERM},
		{"rename the link up", func() experimentalsys.Errno { return jail.Rename("a/b/up2", "up2") }, experimentalsys.EPERM},
		{"hard-link the link up", func() experimentalsys.Errno { return jail.Link("a/b/up2", "up2") }, experimentalsys.EPERM},
		{"rename a host link that leads out", func() experimentalsys.Errno { return jail.Rename("link-abs", "deep/x") }, experimentalsys.EPERM},
		{"rename a folder holding a host link that leads out", func() experimentalsys.Errno { return jail.Rename("deep", "deep2") }, experimentalsys.EPERM},
		{"rename the folder aside", func() experimentalsys.Errno { return jail.Rename("a/b", "a/c") }, 0},
		{"rename its parent", func() experimentalsys.Errno { return jail.Rename("a", "z") }, 0},
		{"rename the link down", func() experimentalsys.Errno { return jail.Rename("z/c/up2", "z/c/up3") }, 0},
		{"hard-link the link aside", func() experimentalsys.Errno { return jail.Link("z/c/up3", "z/c/up4") }, 0},
	}
	for _, s := range steps {
		if got := s.op(); got != s.want {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}

	// Every link the guest left resolves inside the jail on the host.
	for link, want := range map[string]string{"deep/up": "", "z/c/up3": "inside.txt", "z/c/up4": "inside.txt", "down": ""} {
		real, err := filepath.EvalSymlinks(filepath.Join(tree.jail, filepath.FromSlash(link)))
		if err != nil {
			t.Errorf("%s: %v", link, err)
			continue
		}
		if want != "" && real != filepath.Join(tree.jail, want) || !strings.HasPrefix(real+"/", tree.jail+"/") {
			t.Errorf("%s resolves to %s on the host", link, real)
		}
	}
	for _, gone := range []string{"l", "deep/l", "a", "b", "up2", "here/b", "deep2"} {
		if _, err := os.Lstat(filepath.Join(tree.jail, filepath.FromSlash(gone))); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it missing", gone, err)
		}
	}
}

// checkGuestLinks fails the test if a symbolic link in the jail at dir,
// other than the host-made ones listed, resolves outside it on the host.
// Dangling links, which the host cannot resolve, are not judged here.
func checkGuestLinks(t testing.TB, dir string, hostMade []string) {
	t.Helper()
	top, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if slices.Contains(hostMade, filepath.ToSlash(rel)) {
			return nil
		}
		target, _ := os.Readlink(p)
		if filepath.IsAbs(target) {
			t.Errorf("%s -> %s: an absolute link", rel, target)
		}
		if real, err := filepath.EvalSymlinks(p); err == nil && real != top && !strings.HasPrefix(real, top+string(filepath.Separator)) {
			t.Errorf("%s -> %s resolves to %s, outside the jail", rel, target, real)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
