package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// Tier is the kind of code a module runs as.
type Tier uint8

// The tiers. The zero Tier, in Config, means both: see Config.Tier.
const (
	// TierNative is machine code from wazero's optimizing compiler:
	// seconds to compile for a Go module, fast to run.
	TierNative Tier = iota + 1
	// TierInterpreter is wazero's interpreter: several times quicker to
	// compile than TierNative, many times slower to run.
	TierInterpreter
)

func (t Tier) String() string {
	switch t {
	case TierNative:
		return "native"
	case TierInterpreter:
		return "interpreter"
	}
	return fmt.Sprintf("Tier(%d)", t)
}

// code is a module compiled for one tier.
type code struct {
	tier     Tier
	rt       wazero.Runtime // the runtime it was compiled by, which instantiates it
	compiled wazero.CompiledModule
	// Guarded by the Module's mu:
	users   int  // runs holding it
	retired bool // replaced or unloaded: closed once its last user is done
}

// nativeDir is the folder of CacheDir whose files name the modules whose
// machine code the cache holds (wazero's cache cannot be asked).
const nativeDir = "cronbox-native"

// plan chooses the tier a module is loaded for, and whether its machine
// code is to be compiled in the background afterwards. key identifies the
// instrumented module.
func (r *Runtime) plan(key string) (first Tier, later bool) {
	switch {
	case r.cfg.Tier != 0:
		return r.cfg.Tier, false
	case r.nativeCached(key):
		return TierNative, false
	default:
		return TierInterpreter, true
	}
}

// codeKey identifies an instrumented module in CacheDir.
func codeKey(instrumented []byte) string {
	sum := sha256.Sum256(instrumented)
	return hex.EncodeToString(sum[:])
}

// nativeCached reports whether CacheDir holds the machine code of the
// module of key, as far as Cronbox knows: it may have been evicted since,
// or made by another wazero version, and then compiling it natively takes
// its usual time once.
func (r *Runtime) nativeCached(key string) bool {
	if r.cfg.CacheDir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(r.cfg.CacheDir, nativeDir, key))
	return err == nil
}

// noteNative records that CacheDir holds the machine code of key.
func (r *Runtime) noteNative(key string) {
	if r.cfg.CacheDir == "" {
		return
	}
	dir := filepath.Join(r.cfg.CacheDir, nativeDir)
	err := os.WriteFile(filepath.Join(dir, key), nil, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = os.WriteFile(filepath.Join(dir, key), nil, 0o644)
		}
	}
	if err != nil {
		r.log.Warn("noting cached machine code; the module's next load starts on the interpreter", slog.Any("error", err))
	}
}

// compile compiles an instrumented module for tier. wazero's decoder is
// not hardened against every hostile input (some make it panic); such a
// panic is the module's fault and becomes its error. Machine code is
// compiled by as many workers as Go has processors, at least two: then
// cancelling ctx stops the compilation between functions.
func (r *Runtime) compile(ctx context.Context, tier Tier, instrumented []byte) (c *code, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("the module could not be decoded: %v", p)
		}
	}()
	rt := r.interp
	if tier == TierNative {
		rt = r.native
		ctx = experimental.WithCompilationWorkers(ctx, max(2, goruntime.GOMAXPROCS(0)))
	}
	compiled, err := rt.CompileModule(ctx, instrumented)
	if err != nil {
		return nil, err
	}
	return &code{tier: tier, rt: rt, compiled: compiled}, nil
}

// compileLater compiles m's machine code in the background, then runs to
// come use it. Unload and Close stop it. Called with r.mu held.
func (r *Runtime) compileLater(m *Module, instrumented []byte, key string) {
	ctx, cancel := context.WithCancel(r.bgCtx)
	m.stopNative = cancel
	r.bg.Go(func() {
		defer cancel()
		if r.nativeGate != nil {
			select {
			case <-r.nativeGate:
			case <-ctx.Done():
				return
			}
		}
		start := time.Now()
		c, err := r.compile(ctx, TierNative, instrumented)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("compiling a module to machine code; it keeps running on the interpreter", slog.String("module", m.Hash), slog.Any("error", err))
			}
			return
		}
		if ctx.Err() == nil {
			r.noteNative(key)
		}
		m.promote(ctx, c, time.Since(start))
	})
}

// promote makes c the code that m's runs use from now on, unless m was
// unloaded meanwhile.
func (m *Module) promote(ctx context.Context, c *code, took time.Duration) {
	m.mu.Lock()
	if m.unloaded {
		m.mu.Unlock()
		_ = c.compiled.Close(context.WithoutCancel(ctx))
		return
	}
	old := m.code
	m.code = c
	m.nativeCompileTime = took
	close(m.native)
	m.mu.Unlock()
	m.retire(ctx, old)
}

// acquire returns the code a run is to instantiate, held until release.
func (m *Module) acquire() *code {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.code.users++
	return m.code
}

// release lets go of code acquired, closing it when it was the last user
// of retired code.
func (m *Module) release(ctx context.Context, c *code) {
	m.mu.Lock()
	c.users--
	last := c.retired && c.users == 0
	m.mu.Unlock()
	if last {
		_ = c.compiled.Close(context.WithoutCancel(ctx))
	}
}

// retire closes c once no run holds it.
func (m *Module) retire(ctx context.Context, c *code) {
	m.mu.Lock()
	c.retired = true
	idle := c.users == 0
	m.mu.Unlock()
	if idle {
		_ = c.compiled.Close(context.WithoutCancel(ctx))
	}
}

// Tier returns the tier the module's next run runs on.
func (m *Module) Tier() Tier {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.code.tier
}

// Native is closed once the module's runs run as machine code: at Load
// when it loads natively, else when its machine code is compiled. It is
// never closed for a module that runs on the interpreter alone, or was
// unloaded (or its runtime closed) first.
func (m *Module) Native() <-chan struct{} { return m.native }

// InterpretedRuns is how many of the module's runs started on the
// interpreter.
func (m *Module) InterpretedRuns() int64 { return m.interpreted.Load() }

// NativeCompileTime is how long the background compilation of the
// module's machine code took; zero while it has not finished, and when the
// module was loaded natively at once (see CompileTime).
func (m *Module) NativeCompileTime() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nativeCompileTime
}
