// Command cronbox-wasi-suite runs the WASI preview 1 conformance tests of a
// checkout of the WebAssembly/wasi-testsuite repository (branch
// prod/testsuite-base, which holds the tests prebuilt) through `cronbox
// exec` and, for comparison, through bare wazero with its own WASI, and
// prints a pass table and the totals of both.
//
//	go run ./cmd/cronbox-wasi-suite [-cronbox PATH] [-run REGEXP] [-v] SUITE
//
// SUITE is the checkout, or any folder under it: every .wasm file in a
// folder named wasm32-wasip1 below it is a test. A test's .json file, if
// any, gives its arguments, environment, directories (a "root" folder
// granted as "/", "dirs" each granted under its own name) and expected exit
// code, stdout and stderr. Each run gets fresh copies of the test's
// folders, since tests write to them.
//
// Without -cronbox, the cronbox command is built from the module in the
// current directory. It exits with status 1 if any test fails under
// Cronbox.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("cronbox-wasi-suite", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cronbox := fl.String("cronbox", "", "the cronbox `command` to run tests with (default: built from the module in the current directory)")
	filter := fl.String("run", "", "run only the tests whose name matches `REGEXP`")
	timeout := fl.Duration("timeout", 30*time.Second, "time limit of each run")
	verbose := fl.Bool("v", false, "say why each failing run failed")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: cronbox-wasi-suite [-cronbox PATH] [-run REGEXP] [-timeout D] [-v] SUITE")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	var re *regexp.Regexp
	if *filter != "" {
		var err error
		if re, err = regexp.Compile(*filter); err != nil {
			fmt.Fprintf(stderr, "cronbox-wasi-suite: -run: %v\n", err)
			return 2
		}
	}
	tests, err := findTests(fl.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "cronbox-wasi-suite: %v\n", err)
		return 2
	}
	tests = slices.DeleteFunc(tests, func(t test) bool { return re != nil && !re.MatchString(t.name) })
	if len(tests) == 0 {
		fmt.Fprintf(stderr, "cronbox-wasi-suite: no wasm32-wasip1 tests under %s\n", fl.Arg(0))
		return 2
	}
	work, err := os.MkdirTemp("", "cronbox-wasi-suite-")
	if err != nil {
		fmt.Fprintf(stderr, "cronbox-wasi-suite: %v\n", err)
		return 2
	}
	defer os.RemoveAll(work)
	if *cronbox == "" {
		*cronbox = filepath.Join(work, "cronbox")
		build := exec.CommandContext(ctx, "go", "build", "-o", *cronbox, "github.com/cronbox/cronbox/cmd/cronbox")
		build.Stderr = stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(stderr, "cronbox-wasi-suite: building cronbox (run from the Cronbox module, or pass -cronbox): %v\n", err)
			return 2
		}
	}
	runners := []runner{
		&cronboxRunner{cmd: *cronbox, cache: filepath.Join(work, "cache"), timeout: *timeout},
		newWazeroRunner(ctx, *timeout),
	}
	defer runners[1].(*wazeroRunner).close(ctx)

	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "test\tcronbox\twazero\t")
	passed := make([]int, len(runners))
	var worse []string
	for _, t := range tests {
		fmt.Fprintf(tw, "%s\t", t.name)
		var ok []bool
		var why []string
		for i, r := range runners {
			dir, err := os.MkdirTemp(work, "run-")
			if err != nil {
				fmt.Fprintf(stderr, "cronbox-wasi-suite: %v\n", err)
				return 2
			}
			out, err := runTest(ctx, r, t, dir)
			_ = os.RemoveAll(dir)
			if err == nil {
				err = t.spec.check(out)
			}
			ok = append(ok, err == nil)
			if err == nil {
				passed[i]++
				fmt.Fprint(tw, "pass\t")
			} else {
				fmt.Fprint(tw, "FAIL\t")
				why = append(why, fmt.Sprintf("%s: %v", r.name(), err))
			}
		}
		fmt.Fprintln(tw)
		if !ok[0] && ok[1] {
			worse = append(worse, t.name)
		}
		if *verbose {
			for _, w := range why {
				fmt.Fprintf(tw, "  %s\n", indent(w))
			}
		}
	}
	fmt.Fprintf(tw, "total\t%d/%d\t%d/%d\t\n", passed[0], len(tests), passed[1], len(tests))
	tw.Flush()
	if len(worse) > 0 {
		fmt.Fprintf(stdout, "passed by wazero but failed by cronbox: %s\n", strings.Join(worse, ", "))
	}
	if passed[0] < len(tests) {
		return 1
	}
	return 0
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }

// A test is one .wasm file of the suite and its spec.
type test struct {
	name string // language/test, e.g. rust/path_link
	wasm string
	dir  string // the folder of the .wasm file, where its fixtures are
	spec spec
}

// findTests lists the tests under root: the .wasm files in folders named
// wasm32-wasip1, sorted by name.
func findTests(root string) ([]test, error) {
	var tests []test
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(p) != ".wasm" || filepath.Base(filepath.Dir(p)) != "wasm32-wasip1" {
			return nil
		}
		base := strings.TrimSuffix(filepath.Base(p), ".wasm")
		t := test{name: base, wasm: p, dir: filepath.Dir(p)}
		// tests/LANG/testsuite/wasm32-wasip1/NAME.wasm
		if suite := filepath.Dir(t.dir); filepath.Base(suite) == "testsuite" {
			t.name = filepath.Base(filepath.Dir(suite)) + "/" + base
		}
		b, err := os.ReadFile(strings.TrimSuffix(p, ".wasm") + ".json")
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			if t.spec, err = parseSpec(b); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		tests = append(tests, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(tests, func(a, b test) int { return strings.Compare(a.name, b.name) })
	return tests, nil
}

// output is what a run left: its exit code and output.
type output struct {
	exitCode       int
	stdout, stderr []byte
}

// A runner runs one test, with its folders already copied into place.
type runner interface {
	name() string
	// run runs wasm with the spec's arguments and environment, granting
	// each host folder of mounts under its guest path.
	run(ctx context.Context, wasm string, s spec, mounts []mount) (output, error)
}

type mount struct{ host, guest string }

// runTest copies t's folders into dir and runs t there with r.
func runTest(ctx context.Context, r runner, t test, dir string) (output, error) {
	var mounts []mount
	for _, m := range t.spec.mounts() {
		src := filepath.Join(t.dir, filepath.FromSlash(m.host))
		dst := filepath.Join(dir, fmt.Sprint(len(mounts)))
		if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
			return output{}, fmt.Errorf("copying %s: %w", src, err)
		}
		mounts = append(mounts, mount{host: dst, guest: m.guest})
	}
	return r.run(ctx, t.wasm, t.spec, mounts)
}

// cronboxRunner runs tests with `cronbox exec`.
type cronboxRunner struct {
	cmd, cache string
	timeout    time.Duration
}

func (c *cronboxRunner) name() string { return "cronbox" }

func (c *cronboxRunner) run(ctx context.Context, wasm string, s spec, mounts []mount) (output, error) {
	args := []string{"exec", "--cache", c.cache, "--timeout", c.timeout.String()}
	for _, k := range s.envKeys() {
		args = append(args, "--env", k+"="+s.Env[k])
	}
	for _, m := range mounts {
		args = append(args, "--dir", m.host+":"+m.guest)
	}
	args = append(append(args, wasm, "--"), s.Args...)
	cmd := exec.CommandContext(ctx, c.cmd, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return output{}, err
	}
	return output{exitCode: cmd.ProcessState.ExitCode(), stdout: stdout.Bytes(), stderr: stderr.Bytes()}, nil
}

// wazeroRunner runs tests with wazero and its WASI, configured as wazero's
// own command line runs modules: real clocks, sleep and random numbers.
type wazeroRunner struct {
	r       wazero.Runtime
	timeout time.Duration
}

func newWazeroRunner(ctx context.Context, timeout time.Duration) *wazeroRunner {
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	return &wazeroRunner{r: r, timeout: timeout}
}

func (w *wazeroRunner) close(ctx context.Context) { _ = w.r.Close(ctx) }

func (w *wazeroRunner) name() string { return "wazero" }

func (w *wazeroRunner) run(ctx context.Context, wasm string, s spec, mounts []mount) (output, error) {
	b, err := os.ReadFile(wasm)
	if err != nil {
		return output{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	compiled, err := w.r.CompileModule(ctx, b)
	if err != nil {
		return output{}, err
	}
	defer compiled.Close(ctx)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").
		WithArgs(append([]string{filepath.Base(wasm)}, s.Args...)...).
		WithStdout(&stdout).WithStderr(&stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(randReader{})
	for _, k := range s.envKeys() {
		cfg = cfg.WithEnv(k, s.Env[k])
	}
	fsc := wazero.NewFSConfig()
	for _, m := range mounts {
		fsc = fsc.WithDirMount(m.host, m.guest)
	}
	cfg = cfg.WithFSConfig(fsc)
	mod, err := w.r.InstantiateModule(ctx, compiled, cfg)
	code := 0
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		code = int(exit.ExitCode())
	case err != nil:
		code = 134 // a trap, as cronbox exec reports it
		stderr.WriteString(err.Error())
	}
	if mod != nil {
		_ = mod.Close(ctx)
	}
	return output{exitCode: code, stdout: stdout.Bytes(), stderr: stderr.Bytes()}, nil
}
