package build

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/cronbox/cronbox"
)

// buildC compiles every .c file of dir (but *_test.c) with clang for
// wasm32-wasi, optimized and stripped. cronbox.h is found in dir first,
// then in the SDK this binary carries.
func buildC(ctx context.Context, tc *toolchain, dir, out string, opts Options) error {
	sdk, err := carriedSDK(opts.cacheDir())
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	args := []string{"--target=wasm32-wasi"}
	if tc.sysroot != "" {
		args = append(args, "--sysroot="+tc.sysroot)
	}
	args = append(args, "-O2", "-s", "-I", dir, "-I", filepath.Join(sdk, "sdk", "c"), "-o", out)
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".c") && !strings.HasSuffix(n, "_test.c") {
			args = append(args, filepath.Join(dir, n))
		}
	}
	_, err = run(ctx, dir, nil, tc.cc, args...)
	return err
}

// buildRust builds the cargo package in dir for wasm32-wasi, offline and
// in release mode, with its target folder in the cache, and copies the
// one binary it makes to out.
func buildRust(ctx context.Context, tc *toolchain, dir, out string, opts Options) error {
	targetDir := filepath.Join(opts.cacheDir(), "cargo", hashDir(dir))
	stdout, err := run(ctx, dir, []string{"CARGO_TARGET_DIR=" + targetDir, "RUSTC=" + tc.rustc}, tc.cargo,
		"build", "--target", "wasm32-wasi", "--release", "--offline",
		"--manifest-path", filepath.Join(dir, "Cargo.toml"), "--message-format=json-render-diagnostics")
	if err != nil {
		return err
	}
	var wasm []string
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m struct {
			Reason     string `json:"reason"`
			Executable string `json:"executable"`
		}
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Reason == "compiler-artifact" && strings.HasSuffix(m.Executable, ".wasm") {
			wasm = append(wasm, m.Executable)
		}
	}
	switch len(wasm) {
	case 0:
		return fmt.Errorf("cargo built no binary: a Rust task is a package with one binary (src/main.rs)")
	case 1:
	default:
		return fmt.Errorf("cargo built %d binaries (%s): a Rust task is a package with one", len(wasm), strings.Join(wasm, ", "))
	}
	return copyFile(wasm[0], out)
}

// buildAS compiles assembly/index.ts with asc, its top-level statements
// exported as _start, AssemblyScript's abort, trace and seed routed to the
// SDK's (Cronbox has no env module), and the
// SDK as the library "cronbox": lib/cronbox.ts of dir, else the one this
// binary carries. An asconfig.json in dir adds its options.
func buildAS(ctx context.Context, tc *toolchain, dir, out string, opts Options) error {
	lib := filepath.Join(dir, "lib")
	if !fileExists(filepath.Join(lib, "cronbox.ts")) {
		sdk, err := carriedSDK(opts.cacheDir())
		if err != nil {
			return err
		}
		lib = filepath.Join(sdk, "sdk", "assemblyscript", "lib")
	}
	args := []string{filepath.Join("assembly", "index.ts"), "--outFile", out, "--optimize",
		"--exportStart", "_start", "--use", "abort=~lib/cronbox/abort",
		"--use", "trace=~lib/cronbox/trace", "--use", "seed=~lib/cronbox/seed", "--lib", lib}
	_, err := run(ctx, dir, nil, tc.asc, args...)
	return err
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

var carriedMu sync.Mutex

// carriedSDK extracts the SDKs this binary carries (cronbox.LangSDKSource)
// to cacheDir/sdk-<hash of their content>, unless they are there, and
// returns that folder. It appears whole or not at all.
func carriedSDK(cacheDir string) (string, error) {
	carriedMu.Lock()
	defer carriedMu.Unlock()
	files := map[string][]byte{}
	err := fs.WalkDir(cronbox.LangSDKSource, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(cronbox.LangSDKSource, p)
		files[p] = b
		return err
	})
	if err != nil {
		return "", fmt.Errorf("extracting the SDKs: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s %d\n", n, len(files[n]))
		h.Write(files[n])
	}
	dir := filepath.Join(cacheDir, "sdk-"+hex.EncodeToString(h.Sum(nil))[:16])
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("extracting the SDKs: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".sdk-*")
	if err != nil {
		return "", fmt.Errorf("extracting the SDKs: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, n := range names {
		p := filepath.Join(tmp, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("extracting the SDKs: %w", err)
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return "", fmt.Errorf("extracting the SDKs: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return dir, nil // extracted meanwhile by another process
		}
		return "", fmt.Errorf("extracting the SDKs: %w", err)
	}
	return dir, nil
}
