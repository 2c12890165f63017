package lifecycle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/cronbox/cronbox"
	"github.com/cronbox/cronbox/internal/homedir"
)

// sdkFiles is the SDK as extracted: its files by slash path, without
// tests, under a go.mod of its own that requires nothing (the SDK imports
// only the standard library), and the hash that names it.
type sdkFiles struct {
	files     map[string][]byte
	hash      string
	goVersion string
}

var loadSDK = sync.OnceValues(func() (*sdkFiles, error) {
	s := &sdkFiles{files: map[string][]byte{}}
	gomod, err := fs.ReadFile(cronbox.SDKSource, "go.mod")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
			s.goVersion = strings.TrimSpace(v)
		}
	}
	if s.goVersion == "" {
		return nil, errors.New("the embedded go.mod names no Go version")
	}
	s.files["go.mod"] = fmt.Appendf(nil, "module %s\n\ngo %s\n", cronbox.SDKModule, s.goVersion)
	err = fs.WalkDir(cronbox.SDKSource, "sdk", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := fs.ReadFile(cronbox.SDKSource, p)
		s.files[p] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s %d\n", n, len(s.files[n]))
		h.Write(s.files[n])
	}
	s.hash = hex.EncodeToString(h.Sum(nil))[:16]
	return s, nil
})

// EnsureSDK extracts the Go SDK that this binary carries to
// <home>/data/sdk/<hash>/, a module named github.com/cronbox/cronbox holding
// only packages sdk and sdk/sdkhttp, unless it is there already, and
// returns that folder. The hash is of the SDK's content, so SDKs of
// different versions sit side by side and an app keeps building against
// the one its go.mod names. The folder appears whole or not at all.
func EnsureSDK(home string) (string, error) {
	s, err := loadSDK()
	if err != nil {
		return "", fmt.Errorf("extracting the SDK: %w", err)
	}
	parent := homedir.Home(home).SDK()
	dir := filepath.Join(parent, s.hash)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("extracting the SDK: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".extract-*")
	if err != nil {
		return "", fmt.Errorf("extracting the SDK: %w", err)
	}
	defer os.RemoveAll(tmp)
	for name, b := range s.files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("extracting the SDK: %w", err)
		}
		// Read-only, as the module cache is: the SDK is shared by apps.
		if err := os.WriteFile(p, b, 0o444); err != nil {
			return "", fmt.Errorf("extracting the SDK: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("extracting the SDK: %w", err)
	}
	if err := syncTree(tmp); err != nil {
		return "", fmt.Errorf("extracting the SDK: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return dir, nil // extracted meanwhile by another process
		}
		return "", fmt.Errorf("extracting the SDK: %w", err)
	}
	return dir, syncDir(parent)
}

// sdkReplace is the path an app's go.mod in <home>/apps/<name> replaces
// the SDK module with.
func sdkReplace() string {
	s, err := loadSDK()
	if err != nil {
		return ""
	}
	return homedir.SDKFromApp(s.hash)
}
