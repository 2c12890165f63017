package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime"
)

// Exit codes of `cronbox exec` other than the module's own.
const (
	exitTimedOut    = 124 // the run reached its time limit
	exitUsage       = 125 // bad flags, unreadable or invalid module: the module never ran
	exitCancelled   = 130 // interrupted (SIGINT/SIGTERM)
	exitTrapped     = 134 // the module trapped
	exitOutOfMemory = 137 // the module ran out of memory at its limit
)

type execFlags struct {
	env, dirs, allow  listFlag
	memory, output    string
	timeout           time.Duration
	input, config     string
	kv, cache, report string
}

func runExec(ctx context.Context, e *env, args []string) int {
	var f execFlags
	fs := flagSet(e, "exec")
	fs.Var(&f.env, "env", "set an environment variable `K=V` for the module (repeatable)")
	fs.Var(&f.dirs, "dir", "grant the host directory `HOST[:GUEST][:ro]` (repeatable); GUEST defaults to HOST's absolute path and may be /")
	fs.Var(&f.allow, "allow-host", "allow HTTP requests to `HOST` (host, host:port or *.domain; repeatable)")
	fs.StringVar(&f.memory, "memory", bytesize.Format(runtime.DefaultMemory), "memory limit, e.g. 64MiB")
	fs.DurationVar(&f.timeout, "timeout", runtime.DefaultTimeout, "wall-time limit")
	fs.StringVar(&f.output, "output", bytesize.Format(runtime.MaxOutput), "cap on captured stdout and on stderr")
	fs.StringVar(&f.input, "input", "", "the run's input, as `JSON`")
	fs.StringVar(&f.config, "config", "", "the task's config, as a `JSON` object")
	fs.StringVar(&f.kv, "kv", "", "keep the task's key-value store in `FILE` (default: in memory, gone at exit)")
	fs.StringVar(&f.cache, "cache", defaultCacheDir(), "`DIR` for compiled machine code (empty: no disk cache)")
	fs.StringVar(&f.report, "report", "", "write a JSON report of the run (status, exit code, duration, memory, result) to `FILE` (- for stderr)")
	pos, rest, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "cronbox exec: want exactly one module file; run `cronbox help exec`")
		return exitUsage
	}
	code, err := execModule(ctx, e, pos[0], rest, f)
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox: %v\n", err)
	}
	return code
}

func execModule(ctx context.Context, e *env, file string, args []string, f execFlags) (int, error) {
	lim, err := execLimits(f)
	if err != nil {
		return exitUsage, err
	}
	spec := runtime.Spec{Args: append([]string{filepath.Base(file)}, args...), Env: f.env, Limits: lim, Stdout: e.stdout, Stderr: e.stderr}
	for _, d := range f.dirs {
		m, err := parseMount(d)
		if err != nil {
			return exitUsage, err
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	call, err := execCall(f, e.stderr)
	if err != nil {
		return exitUsage, err
	}
	defer call.Close()
	// What the host holds for the run counts against its memory limit.
	acct := runtime.NewAccount()
	call.Account, spec.Account = acct, acct

	// One run: its machine code is worth the compile (and cached for the
	// next), where the interpreter would run it all many times slower.
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: f.cache, Tier: runtime.TierNative, HostModules: []runtime.HostModule{hostModule()}})
	if err != nil {
		return exitUsage, err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	mod, _, err := rt.LoadFile(ctx, file)
	if err != nil {
		return exitUsage, err
	}
	res, err := rt.Run(hostapi.WithCall(ctx, call), mod, spec)
	if err != nil {
		return exitUsage, err
	}
	if f.report != "" {
		if err := writeReport(f.report, e.stderr, res, call.Result()); err != nil {
			fmt.Fprintf(e.stderr, "cronbox: %v\n", err)
		}
	}
	if res.Truncated() {
		fmt.Fprintf(e.stderr, "cronbox: output truncated at %s (%d bytes of stdout and %d of stderr dropped)\n",
			bytesize.Format(lim.Output), res.StdoutDropped, res.StderrDropped)
	}
	switch res.Status {
	case runtime.StatusSucceeded:
		return 0, nil
	case runtime.StatusFailed:
		return min(max(res.ExitCode, 0), 255), nil
	case runtime.StatusTimedOut:
		return exitTimedOut, fmt.Errorf("timed out: %s", res.Error)
	case runtime.StatusOutOfMemory:
		return exitOutOfMemory, fmt.Errorf("out of memory: %s", res.Error)
	case runtime.StatusCancelled:
		return exitCancelled, fmt.Errorf("%s", res.Error)
	default:
		return exitTrapped, fmt.Errorf("%s", res.Error)
	}
}

// hostModule is the "cronbox" host module as the runtime defines it.
func hostModule() runtime.HostModule {
	return runtime.HostModule{
		Name:        hostapi.ModuleName,
		Instantiate: hostapi.Instantiate,
		Hint:        fmt.Sprintf("built for a newer Cronbox? This one implements host ABI version %d", hostapi.Version),
	}
}

func execLimits(f execFlags) (runtime.Limits, error) {
	mem, err := bytesize.Parse(f.memory)
	if err != nil {
		return runtime.Limits{}, fmt.Errorf("--memory: %w", err)
	}
	out, err := bytesize.Parse(f.output)
	if err != nil {
		return runtime.Limits{}, fmt.Errorf("--output: %w", err)
	}
	if f.timeout <= 0 {
		return runtime.Limits{}, fmt.Errorf("--timeout: %s is not a positive duration", f.timeout)
	}
	if mem == 0 || out == 0 {
		return runtime.Limits{}, fmt.Errorf("--memory and --output must be above zero")
	}
	return runtime.Limits{Memory: mem, Timeout: f.timeout, Output: out}, nil
}

// parseMount reads HOST[:GUEST][:ro].
func parseMount(s string) (runtime.Mount, error) {
	parts := strings.Split(s, ":")
	m := runtime.Mount{}
	if n := len(parts); n > 1 && parts[n-1] == "ro" {
		m.ReadOnly, parts = true, parts[:n-1]
	}
	if len(parts) > 2 || parts[0] == "" {
		return m, fmt.Errorf("--dir %q: want HOST[:GUEST][:ro]", s)
	}
	abs, err := filepath.Abs(parts[0])
	if err != nil {
		return m, fmt.Errorf("--dir %q: %w", s, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return m, fmt.Errorf("--dir %q: %w", s, err)
	}
	if !fi.IsDir() {
		return m, fmt.Errorf("--dir %q: %s is not a directory", s, abs)
	}
	m.HostDir, m.GuestPath = abs, filepath.ToSlash(abs)
	if len(parts) == 2 {
		m.GuestPath = parts[1]
		if !strings.HasPrefix(m.GuestPath, "/") {
			return m, fmt.Errorf("--dir %q: the guest path %q must be absolute", s, m.GuestPath)
		}
	}
	return m, nil
}

// execCall is the host state of an exec run: input, config, KV, HTTP
// allow-list, and logs written to stderr.
func execCall(f execFlags, stderr io.Writer) (*hostapi.Call, error) {
	call := &hostapi.Call{Sink: &stderrSink{w: stderr}}
	if f.input != "" {
		if !json.Valid([]byte(f.input)) {
			return nil, fmt.Errorf("--input: not valid JSON")
		}
		call.Input = []byte(f.input)
	}
	if f.config != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(f.config), &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("--config: want a JSON object")
		}
		call.Config = []byte(f.config)
	}
	if f.kv != "" {
		kv, err := hostapi.OpenFileKV(f.kv)
		if err != nil {
			return nil, fmt.Errorf("--kv: %w", err)
		}
		call.KV = kv
	} else {
		call.KV = hostapi.NewMemoryKV()
	}
	if len(f.allow) > 0 {
		call.HTTP = &hostapi.HTTP{Allow: f.allow}
	}
	return call, nil
}

// stderrSink prints a run's log lines and progress on stderr.
type stderrSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *stderrSink) Log(level hostapi.Level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "[%s] %s\n", level, msg)
}

func (s *stderrSink) Progress(percent int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "[progress %d%%] %s\n", percent, msg)
}

type report struct {
	Status     runtime.Status  `json:"status"`
	ExitCode   int             `json:"exit_code"`
	DurationMS float64         `json:"duration_ms"`
	PeakMemory int64           `json:"peak_memory"`
	Error      string          `json:"error,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Truncated  bool            `json:"output_truncated"`
}

func writeReport(path string, stderr io.Writer, res *runtime.Result, result []byte) error {
	b, err := json.MarshalIndent(report{
		Status: res.Status, ExitCode: res.ExitCode, DurationMS: float64(res.Duration.Microseconds()) / 1000,
		PeakMemory: res.PeakMemory, Error: res.Error, Result: result, Truncated: res.Truncated(),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stderr.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "cronbox", "compiled")
}
