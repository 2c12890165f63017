// Package gobuild compiles Go task sources to WASI (wasip1) modules with the
// Go toolchain found on the machine. It backs `cronbox build` and the tests
// that need real modules.
package gobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cronbox/cronbox"
)

// ErrNoToolchain is returned when no Go toolchain can be found.
var ErrNoToolchain = errors.New("no Go toolchain found: install Go 1.26 or newer (https://go.dev/dl) or put `go` on PATH")

// Toolchain returns the path of the `go` command: $GOROOT/bin/go when GOROOT
// is set, otherwise `go` on PATH.
func Toolchain() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", ErrNoToolchain
	}
	return p, nil
}

// Build compiles the Go main package in srcDir to the WASI module out.
// The module is written to a temporary file first and renamed, so a
// half-written module is never left at out. srcDir must be in a Go module;
// BuildWith can build sources that are not.
func Build(ctx context.Context, srcDir, out string) error {
	return BuildWith(ctx, srcDir, out, Options{})
}

// Options are the options of BuildWith.
type Options struct {
	// SDK, if set, returns the folder of the Cronbox SDK's source: a
	// module named github.com/cronbox/cronbox. It is called only for
	// sources in no Go module (a task copied out of its repository, an app
	// without a go.mod): they are built as a module of their own that
	// takes the SDK from that folder, without network access, and nothing
	// is written beside them. Nil: such sources are an error that says so.
	SDK func() (string, error)
}

// BuildWith is Build with options.
func BuildWith(ctx context.Context, srcDir, out string, opts Options) error {
	goCmd, err := Toolchain()
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("building %s: %w", srcDir, err)
	}
	absSrc, err := filepath.Abs(srcDir)
	if err != nil {
		return fmt.Errorf("building %s: %w", srcDir, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(absOut), ".build-*.wasm")
	if err != nil {
		return fmt.Errorf("building %s: %w", srcDir, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)

	args := []string{"build", "-trimpath", "-o", tmpName}
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if !inModule(absSrc) {
		if opts.SDK == nil {
			return fmt.Errorf("building %s: it is in no Go module (no go.mod in it or above it); add one that requires %s, as `cronbox app new` does", srcDir, cronbox.SDKModule)
		}
		overlay, cleanup, err := standalone(absSrc, opts.SDK)
		if err != nil {
			return fmt.Errorf("building %s: %w", srcDir, err)
		}
		defer cleanup()
		args = append(args, "-overlay", overlay, "-mod=mod")
		env = append(env, "GOPROXY=off", "GOWORK=off", "GOFLAGS=")
	}
	cmd := exec.CommandContext(ctx, goCmd, append(args, ".")...)
	cmd.Dir = srcDir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("building %s: %s", srcDir, msg)
	}
	if err := os.Rename(tmpName, absOut); err != nil {
		return fmt.Errorf("building %s: %w", srcDir, err)
	}
	return nil
}

// inModule reports whether dir or a folder above it has a go.mod.
func inModule(dir string) bool {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

// standalone prepares the build of the main package in dir, which is in no
// module, as a module of its own: it writes a go.mod requiring the SDK
// from sdk() and an overlay that puts it in dir for the go command only.
// It returns the overlay file and a function that removes both.
func standalone(dir string, sdk func() (string, error)) (overlay string, cleanup func(), err error) {
	sdkDir, err := sdk()
	if err == nil {
		sdkDir, err = filepath.Abs(sdkDir) // go.mod takes no bare relative path
	}
	if err != nil {
		return "", nil, fmt.Errorf("finding the SDK: %w", err)
	}
	goVer, err := goVersion(sdkDir)
	if err != nil {
		return "", nil, fmt.Errorf("finding the SDK: %w", err)
	}
	tmp, err := os.MkdirTemp("", "cronbox-build-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	gomod := fmt.Sprintf("module cronbox.local/task\n\ngo %s\n\nrequire %s v0.0.0\n\nreplace %s => %s\n",
		goVer, cronbox.SDKModule, cronbox.SDKModule, strconv.Quote(sdkDir))
	modPath := filepath.Join(tmp, "go.mod")
	if err := os.WriteFile(modPath, []byte(gomod), 0o644); err != nil {
		cleanup()
		return "", nil, err
	}
	o, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(dir, "go.mod"): modPath}})
	if err != nil {
		cleanup()
		return "", nil, err
	}
	overlay = filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, o, 0o644); err != nil {
		cleanup()
		return "", nil, err
	}
	return overlay, cleanup, nil
}

// goVersion returns the go directive of the go.mod in sdkDir: the least
// Go the SDK needs, which a generated go.mod asks for too, so that the
// toolchain on the machine is not told to fetch a newer one.
func goVersion(sdkDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(sdkDir, "go.mod"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod has no go directive", sdkDir)
}

// IsMain reports whether dir holds a non-test Go file of package main.
func IsMain(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("finding Go tasks: %w", err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			continue // the build will report it
		}
		if f.Name.Name == "main" {
			return true, nil
		}
	}
	return false, nil
}
