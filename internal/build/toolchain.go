package build

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cronbox/cronbox/internal/gobuild"
)

// ToolchainError says that the toolchain of a language is missing or
// incomplete, and how to install it.
type ToolchainError struct {
	Lang    Lang
	Missing string // what is missing, such as "clang"
	Install string // the command that installs it
}

func (e *ToolchainError) Error() string {
	return fmt.Sprintf("no %s toolchain: %s is missing; install it with `%s`", e.Lang, e.Missing, e.Install)
}

// The commands that install each toolchain, on Debian and with npm.
const (
	InstallC              = "apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32"
	InstallRust           = "apt-get install -y rustc cargo libstd-rust-dev-wasm32"
	InstallAssemblyScript = "npm install --prefix ~/.cache/cronbox/npm assemblyscript@0.28 (or set CRONBOX_ASC to an asc command)"
	InstallGo             = "see https://go.dev/dl (Go 1.26 or newer)"
)

// toolchain is what a build of one language runs.
type toolchain struct {
	cc      string // clang
	sysroot string // wasi-libc's sysroot, "" when clang finds it itself
	cargo   string
	rustc   string
	asc     string // the asc command
}

// Toolchain checks that the toolchain of lang is installed, for a task
// whose sources are in dir ("" for none: AssemblyScript also looks for asc
// in node_modules folders at and above dir). Its error is a
// *ToolchainError.
func Toolchain(lang Lang, dir string) error {
	_, err := findToolchain(lang, dir)
	return err
}

func findToolchain(lang Lang, dir string) (*toolchain, error) {
	switch lang {
	case Go:
		if _, err := gobuild.Toolchain(); err != nil {
			return nil, &ToolchainError{Lang: Go, Missing: "go", Install: InstallGo}
		}
		return &toolchain{}, nil
	case C:
		return cToolchain()
	case Rust:
		return rustToolchain()
	case AssemblyScript:
		return asToolchain(dir)
	}
	return nil, fmt.Errorf("unknown language %q", lang)
}

func missing(lang Lang, what, install string) error {
	return &ToolchainError{Lang: lang, Missing: what, Install: install}
}

// output runs a command and returns its trimmed standard output.
func output(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func cToolchain() (*toolchain, error) {
	cc := os.Getenv("CRONBOX_CLANG")
	if cc == "" {
		p, err := exec.LookPath("clang")
		if err != nil {
			return nil, missing(C, "clang", InstallC)
		}
		cc = p
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		return nil, missing(C, "wasm-ld (lld)", InstallC)
	}
	tc := &toolchain{cc: cc}
	// Debian's clang finds wasi-libc in /usr; other builds use the
	// wasi-sdk layout.
	if fi, err := os.Stat("/usr/share/wasi-sysroot"); err == nil && fi.IsDir() {
		tc.sysroot = "/usr/share/wasi-sysroot"
	}
	args := []string{"--target=wasm32-wasi"}
	if tc.sysroot != "" {
		args = append(args, "--sysroot="+tc.sysroot)
	}
	if libc, _ := output(cc, append(args, "-print-file-name=libc.a")...); !filepath.IsAbs(libc) {
		return nil, missing(C, "wasi-libc", InstallC)
	}
	rt, _ := output(cc, append(args, "-print-libgcc-file-name")...)
	if _, err := os.Stat(rt); err != nil {
		return nil, missing(C, "the wasm32 compiler-rt builtins ("+filepath.Base(rt)+")", InstallC)
	}
	return tc, nil
}

// rustToolchain finds cargo and a rustc with the wasm32-wasi standard
// library: $CARGO (with $RUSTC, or the rustc beside it), else cargo on
// PATH, else Debian's /usr/bin/cargo, which a rustup toolchain on PATH
// without that target would otherwise hide.
func rustToolchain() (*toolchain, error) {
	var cands []string
	if c := os.Getenv("CARGO"); c != "" {
		cands = append(cands, c)
	}
	if p, err := exec.LookPath("cargo"); err == nil {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/cargo")
	var last error = missing(Rust, "cargo", InstallRust)
	seen := map[string]bool{}
	for _, cargo := range cands {
		if seen[cargo] || !fileExists(cargo) {
			continue
		}
		seen[cargo] = true
		rustc := os.Getenv("RUSTC")
		if rustc == "" || cargo != os.Getenv("CARGO") {
			rustc = filepath.Join(filepath.Dir(cargo), "rustc")
		}
		if !fileExists(rustc) {
			last = missing(Rust, "rustc beside "+cargo, InstallRust)
			continue
		}
		sysroot, err := output(rustc, "--print", "sysroot")
		if err != nil {
			last = missing(Rust, "a working rustc ("+rustc+")", InstallRust)
			continue
		}
		if fi, err := os.Stat(filepath.Join(sysroot, "lib", "rustlib", "wasm32-wasi", "lib")); err != nil || !fi.IsDir() {
			last = missing(Rust, "the wasm32-wasi standard library of "+rustc, InstallRust)
			continue
		}
		return &toolchain{cargo: cargo, rustc: rustc}, nil
	}
	return nil, last
}

// asToolchain finds asc: $CRONBOX_ASC, node_modules/.bin/asc at or above
// dir, in ~/.cache/cronbox/npm, or asc on PATH. It needs node.
func asToolchain(dir string) (*toolchain, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, missing(AssemblyScript, "node", "apt-get install -y nodejs npm")
	}
	if p := os.Getenv("CRONBOX_ASC"); p != "" {
		return &toolchain{asc: p}, nil
	}
	var dirs []string
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			for d := abs; ; d = filepath.Dir(d) {
				dirs = append(dirs, d)
				if filepath.Dir(d) == d {
					break
				}
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "cronbox", "npm"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "node_modules", ".bin", "asc"); fileExists(p) {
			return &toolchain{asc: p}, nil
		}
	}
	if p, err := exec.LookPath("asc"); err == nil {
		return &toolchain{asc: p}, nil
	}
	return nil, missing(AssemblyScript, "asc (AssemblyScript 0.28)", InstallAssemblyScript)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// run runs name with args in dir, with the environment env added, and
// returns its combined output as the error when it fails.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if stderr.Len() == 0 {
			stderr = stdout
		}
		return nil, commandError(&stderr, err)
	}
	return stdout.Bytes(), nil
}
