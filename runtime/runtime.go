// Package runtime is Cronbox's sandbox: it compiles WebAssembly modules once
// and runs every execution in a fresh, isolated wazero instance under
// enforced limits of memory, wall time and captured output.
//
// It knows nothing of apps, schedules or storage. Host functions beyond WASI
// come in as HostModules; per-run host state travels in the context passed
// to Run, which is the context every host call of the run receives.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cronbox/cronbox/runtime/internal/wasi"
)

// HostModule is a module of host functions that guests may import.
type HostModule struct {
	// Name is the import module name, e.g. "cronbox".
	Name string
	// Instantiate defines the module's functions in r. New calls it once
	// for each wazero runtime it makes (one a tier).
	Instantiate func(ctx context.Context, r wazero.Runtime) error
	// Hint, if set, is added to the error for an import of a function the
	// module lacks, e.g. "built for a newer Cronbox?".
	Hint string
}

// Config configures a Runtime. The zero value is valid.
type Config struct {
	// CacheDir is where compiled machine code is cached across processes.
	// Default "": compiled code is cached in memory only.
	CacheDir string
	// HostModules are defined once and importable by every guest.
	// WASI preview 1 is always defined. Default: none.
	HostModules []HostModule
	// Defaults are the limits of a run whose Spec leaves a limit at zero.
	// Zero fields take DefaultMemory, DefaultTimeout and DefaultOutput, or
	// the ceiling where it is lower.
	Defaults Limits
	// Ceiling caps every limit a Spec asks for. Zero fields take
	// MaxMemory, MaxTimeout and MaxOutput.
	Ceiling Limits
	// MaxModuleSize is the largest module Load accepts. Default 64 MiB.
	MaxModuleSize int64
	// IdleMemories is how many guest memory mappings are kept for reuse
	// between runs. Default 4 × GOMAXPROCS.
	IdleMemories int
	// Logger receives the runtime's own diagnostics. Default: discarded.
	Logger *slog.Logger
	// Tier, if set, runs every module on that tier alone. Default 0,
	// tiered: a module whose machine code CacheDir holds is loaded
	// natively; any other is loaded for the interpreter, which compiles
	// it several times faster, and runs there until its machine code,
	// compiled in the background, takes over for the runs that start
	// after it.
	Tier Tier
}

// Runtime compiles modules and runs them. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	native wazero.Runtime      // nil when Config.Tier is TierInterpreter
	interp wazero.Runtime      // nil when Config.Tier is TierNative
	base   wazero.ModuleConfig // see baseModuleConfig
	cache  wazero.CompilationCache
	pool   *memPool
	known  map[string]map[string]api.FunctionDefinition // module → function → definition
	hints  map[string]string
	log    *slog.Logger

	// bg is the background compilations, which bgCtx's end stops.
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
	// nativeGate, when not nil, holds background compilations back until
	// it is closed (tests).
	nativeGate chan struct{}

	mu      sync.Mutex
	closed  bool
	modules map[string]*Module // by hash
	live    map[*liveRun]struct{}

	compiles, hits atomic.Int64 // Loads that compiled, and that found a module compiled
}

// ErrClosed is returned by a Runtime used after Close.
var ErrClosed = errors.New("runtime is closed")

// New makes a Runtime. ctx is used to define host modules only.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.Ceiling = cfg.Ceiling.orDefaults(ceilingLimits())
	d := defaultLimits() // unset defaults never exceed a lowered ceiling
	d = Limits{Memory: min(d.Memory, cfg.Ceiling.Memory), Timeout: min(d.Timeout, cfg.Ceiling.Timeout), Output: min(d.Output, cfg.Ceiling.Output)}
	cfg.Defaults = cfg.Defaults.orDefaults(d)
	if err := cfg.Ceiling.within(ceilingLimits()); err != nil {
		return nil, fmt.Errorf("runtime config: Ceiling: %w", err)
	}
	if err := cfg.Defaults.within(cfg.Ceiling); err != nil {
		return nil, fmt.Errorf("runtime config: Defaults: %w", err)
	}
	if cfg.MaxModuleSize == 0 {
		cfg.MaxModuleSize = 64 << 20
	}
	if cfg.MaxModuleSize < 0 {
		return nil, fmt.Errorf("runtime config: MaxModuleSize %d is negative", cfg.MaxModuleSize)
	}
	if cfg.IdleMemories == 0 {
		cfg.IdleMemories = 4 * goruntime.GOMAXPROCS(0)
	}
	if cfg.IdleMemories < 0 {
		return nil, fmt.Errorf("runtime config: IdleMemories %d is negative", cfg.IdleMemories)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	if cfg.Tier > TierInterpreter {
		return nil, fmt.Errorf("runtime config: Tier %s is not a tier", cfg.Tier)
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" && cfg.Tier != TierInterpreter {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("opening compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache = c
	}
	r := &Runtime{
		cfg:     cfg,
		base:    baseModuleConfig(),
		cache:   cache,
		pool:    newMemPool(cfg.IdleMemories),
		known:   map[string]map[string]api.FunctionDefinition{},
		hints:   map[string]string{},
		log:     cfg.Logger,
		modules: map[string]*Module{},
		live:    map[*liveRun]struct{}{},
	}
	r.bgCtx, r.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	hosts := append([]HostModule{{Name: wasi.ModuleName, Instantiate: wasi.Instantiate}}, cfg.HostModules...)
	for _, h := range hosts {
		if h.Name == "" || h.Instantiate == nil {
			r.Close(ctx)
			return nil, fmt.Errorf("runtime config: HostModules: a module needs a Name and an Instantiate func")
		}
	}
	for _, tier := range []Tier{TierNative, TierInterpreter} {
		if cfg.Tier != 0 && cfg.Tier != tier {
			continue
		}
		wz, err := r.newWazero(ctx, tier, hosts)
		if tier == TierNative {
			r.native = wz
		} else {
			r.interp = wz
		}
		if err != nil {
			r.Close(ctx)
			return nil, err
		}
	}
	return r, nil
}

// newWazero makes the wazero runtime of a tier, with hosts defined in it,
// and notes their functions for Load's checks. It returns the runtime
// even with an error, for Close.
func (r *Runtime) newWazero(ctx context.Context, tier Tier, hosts []HostModule) (wazero.Runtime, error) {
	rc := wazero.NewRuntimeConfigInterpreter()
	if tier == TierNative {
		rc = wazero.NewRuntimeConfigCompiler()
		if r.cache != nil {
			rc = rc.WithCompilationCache(r.cache)
		}
	}
	// Native code is stopped by instrumentation (internal/instrument,
	// run.go): the host sets globals the guest reads. The interpreter
	// reads them as Go code, which must not see another goroutine's
	// plain writes; its own check of the run's context, at every loop
	// head and call, is what stops it.
	rc = rc.WithCoreFeatures(api.CoreFeaturesV2).
		WithMemoryLimitPages(uint32(min(r.cfg.Ceiling.Memory>>16, 65536))).
		WithCloseOnContextDone(tier == TierInterpreter)
	wz := wazero.NewRuntimeWithConfig(ctx, rc)
	for _, h := range hosts {
		if err := h.Instantiate(ctx, wz); err != nil {
			return wz, fmt.Errorf("defining host module %s: %w", h.Name, err)
		}
		mod := wz.Module(h.Name)
		if mod == nil {
			return wz, fmt.Errorf("defining host module %s: Instantiate did not instantiate a module of that name", h.Name)
		}
		r.known[h.Name] = mod.ExportedFunctionDefinitions()
		r.hints[h.Name] = h.Hint
	}
	return wz, nil
}

// Close frees every compiled module and the runtime, once the background
// compilations have stopped. Runs still going are cancelled by closing
// their instances.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	for l := range r.live {
		l.cancel(ErrClosed)
	}
	r.modules = map[string]*Module{}
	r.mu.Unlock()
	r.bgCancel()
	r.bg.Wait()
	var err error
	for _, wz := range []wazero.Runtime{r.native, r.interp} {
		if wz != nil {
			err = errors.Join(err, wz.Close(ctx))
		}
	}
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	r.pool.close()
	return err
}

// Stats describes what a Runtime holds right now.
type Stats struct {
	Modules int // compiled modules
	// Interpreted counts the modules that run on the interpreter, in
	// tiered mode the ones whose machine code is still compiling.
	Interpreted  int
	LiveRuns     int // runs with an instance
	IdleMemories int // pooled memory mappings
	// Compiles counts the Loads that compiled a module (its machine code
	// may still come from the on-disk cache: see Module.CompileTime);
	// Hits those that found it compiled already.
	Compiles, Hits int64
}

// Stats returns counts of what the runtime holds.
func (r *Runtime) Stats() Stats {
	r.mu.Lock()
	s := Stats{Modules: len(r.modules), LiveRuns: len(r.live), Compiles: r.compiles.Load(), Hits: r.hits.Load()}
	for _, m := range r.modules {
		if m.Tier() == TierInterpreter {
			s.Interpreted++
		}
	}
	r.mu.Unlock()
	r.pool.mu.Lock()
	s.IdleMemories = r.pool.nIdle
	r.pool.mu.Unlock()
	return s
}
