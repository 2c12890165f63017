package gobuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Cache builds modules into a directory, keyed by everything the build
// reads: the task's sources, the SDK's, go.mod and go.sum, and the Go
// version. A module is rebuilt only when one of those changes. Safe for
// concurrent use; builds of the same key are done once.
type Cache struct {
	Dir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
	goVer string
}

// Build returns the path of the module built from the main package in
// srcDir, building it if the cache does not hold it yet.
func (c *Cache) Build(ctx context.Context, srcDir string) (string, error) {
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		return "", fmt.Errorf("building %s: %w", srcDir, err)
	}
	key, err := c.key(abs)
	if err != nil {
		return "", fmt.Errorf("building %s: %w", srcDir, err)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", fmt.Errorf("building %s: %w", srcDir, err)
	}
	out := filepath.Join(c.Dir, filepath.Base(abs)+"-"+key+".wasm")

	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[string]*sync.Mutex{}
	}
	l, ok := c.locks[out]
	if !ok {
		l = new(sync.Mutex)
		c.locks[out] = l
	}
	c.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	return out, Build(ctx, abs, out)
}

func (c *Cache) goVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goVer == "" {
		c.goVer = "unknown"
		if p, err := Toolchain(); err == nil {
			if out, err := exec.Command(p, "version").Output(); err == nil {
				c.goVer = strings.TrimSpace(string(out))
			}
		}
	}
	return c.goVer
}

// key hashes the files a build of srcDir depends on.
func (c *Cache) key(srcDir string) (string, error) {
	root, err := moduleRoot(srcDir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(c.goVersion()))
	var files []string
	for _, d := range []string{srcDir, filepath.Join(root, "sdk")} {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.HasSuffix(p, ".go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	files = append(files, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// moduleRoot is the nearest directory at or above dir with a go.mod.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
	}
}
