package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime/internal/instrument"
)

// Errors of loading and running. Errors returned by Load and Run wrap one of
// these, with a message that says what exactly is wrong.
var (
	// ErrInvalidModule: the bytes are not a valid WebAssembly module.
	ErrInvalidModule = errors.New("invalid module")
	// ErrUnknownImport: the module imports something Cronbox does not provide.
	ErrUnknownImport = errors.New("unknown import")
	// ErrNotCommand: the module is not a WASI command (no _start).
	ErrNotCommand = errors.New("not a WASI command")
	// ErrLimit: a limit is out of range, or the module cannot fit in it.
	ErrLimit = errors.New("limit")
)

// Module is a compiled module, ready to run any number of times.
type Module struct {
	// Hash is the hex SHA-256 of the module's bytes.
	Hash string
	// Size is the module's size in bytes.
	Size int
	// CompileTime is how long Load took to compile it, for the tier it
	// was loaded for (near zero when the machine code came from the
	// on-disk cache). See also NativeCompileTime.
	CompileTime time.Duration
	// MinMemory is the memory the module declares it needs at start.
	MinMemory int64
	// Loaded is when it was compiled.
	Loaded time.Time

	hadStart    bool              // the start section was moved to an export by instrumentation
	image       *instrument.Image // the data segments, taken out of the compiled code
	instances   atomic.Int64      // live instances
	runs        atomic.Int64      // runs started
	interpreted atomic.Int64      // runs started on the interpreter
	hits        atomic.Int64      // Loads that found it compiled

	mu                sync.Mutex
	code              *code // what runs instantiate now
	unloaded          bool
	stopNative        context.CancelFunc // stops the background compilation; nil without one
	native            chan struct{}      // see Native
	nativeCompileTime time.Duration
}

// Hits is how many times Load returned the module already compiled, from
// the same bytes, instead of compiling it again.
func (m *Module) Hits() int64 { return m.hits.Load() }

// Instances is how many instances of the module are running now.
func (m *Module) Instances() int64 { return m.instances.Load() }

// Runs is how many runs of the module have started.
func (m *Module) Runs() int64 { return m.runs.Load() }

// LoadFile is Load of a file's contents.
func (r *Runtime) LoadFile(ctx context.Context, path string) (*Module, bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("loading module: %w", err)
	}
	if fi.IsDir() {
		return nil, false, fmt.Errorf("loading module %s: %w: is a directory", path, ErrInvalidModule)
	}
	if fi.Size() > r.cfg.MaxModuleSize {
		return nil, false, fmt.Errorf("loading module %s: %w: %s is larger than the %s a module may have", path, ErrLimit, bytesize.Format(fi.Size()), bytesize.Format(r.cfg.MaxModuleSize))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("loading module: %w", err)
	}
	m, hit, err := r.Load(ctx, b)
	if err != nil {
		return nil, false, fmt.Errorf("loading module %s: %w", path, err)
	}
	return m, hit, nil
}

// Load compiles a module, or returns the one already compiled from the same
// bytes (hit is then true). It checks that the module is a WASI command
// importing only functions the runtime provides, with matching signatures.
// Which tier it compiles the module for is Config.Tier's to say.
func (r *Runtime) Load(ctx context.Context, wasm []byte) (m *Module, hit bool, err error) {
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])
	r.mu.Lock()
	if r.modules == nil {
		r.mu.Unlock()
		return nil, false, ErrClosed
	}
	if m := r.modules[hash]; m != nil {
		r.mu.Unlock()
		m.hits.Add(1)
		r.hits.Add(1)
		return m, true, nil
	}
	r.mu.Unlock()

	if err := sniff(wasm, r.cfg.MaxModuleSize); err != nil {
		return nil, false, err
	}
	start := time.Now()
	code, info, err := instrument.InstrumentImage(wasm)
	if err != nil {
		if errors.Is(err, instrument.ErrLimit) {
			return nil, false, fmt.Errorf("%w: %v", ErrLimit, err)
		}
		return nil, false, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	key := codeKey(code)
	tier, later := r.plan(key)
	c, err := r.compile(ctx, tier, code)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	m = &Module{Hash: hash, Size: len(wasm), code: c, hadStart: info.HadStart, image: info.Image, Loaded: time.Now(), native: make(chan struct{})}
	if tier == TierNative {
		close(m.native)
	}
	m.CompileTime = m.Loaded.Sub(start)
	if err := r.check(m, c.compiled); err != nil {
		c.compiled.Close(ctx)
		return nil, false, err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.compiled.Close(ctx)
		return nil, false, ErrClosed
	}
	if prev := r.modules[hash]; prev != nil { // another goroutine won the race
		c.compiled.Close(ctx)
		prev.hits.Add(1)
		r.hits.Add(1)
		return prev, true, nil
	}
	r.modules[hash] = m
	r.compiles.Add(1)
	if later {
		r.compileLater(m, code, key)
	}
	return m, false, nil
}

// Unload forgets a module and stops compiling its machine code. Runs
// still using it finish normally.
func (r *Runtime) Unload(ctx context.Context, m *Module) {
	r.mu.Lock()
	if r.modules[m.Hash] == m {
		delete(r.modules, m.Hash)
	}
	r.mu.Unlock()
	m.mu.Lock()
	m.unloaded = true
	if m.stopNative != nil {
		m.stopNative()
	}
	c := m.code
	m.mu.Unlock()
	m.retire(ctx, c)
}

// Modules lists the compiled modules.
func (r *Runtime) Modules() []*Module {
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := make([]*Module, 0, len(r.modules))
	for _, m := range r.modules {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *Module) int { return strings.Compare(a.Hash, b.Hash) })
	return ms
}

// sniff gives a clear error for bytes that are plainly not a core module.
func sniff(b []byte, maxSize int64) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w: the file is empty", ErrInvalidModule)
	case int64(len(b)) > maxSize:
		return fmt.Errorf("%w: %s is larger than the %s a module may have", ErrLimit, bytesize.Format(int64(len(b))), bytesize.Format(maxSize))
	case len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")):
		return fmt.Errorf("%w: not a WebAssembly binary (it does not start with \\0asm)", ErrInvalidModule)
	case bytes.Equal(b[4:8], []byte{0x0d, 0x00, 0x01, 0x00}):
		return fmt.Errorf("%w: this is a WebAssembly component; Cronbox runs WASI preview 1 core modules", ErrInvalidModule)
	case !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}):
		return fmt.Errorf("%w: unsupported WebAssembly binary version % x", ErrInvalidModule, b[4:8])
	}
	return nil
}

// check verifies imports and exports of m, compiled as compiled.
func (r *Runtime) check(m *Module, compiled wazero.CompiledModule) error {
	for _, def := range compiled.ImportedFunctions() {
		modName, name, _ := def.Import()
		fns, ok := r.known[modName]
		if !ok {
			return fmt.Errorf("%w: %s.%s: Cronbox provides no module %q (only %s)", ErrUnknownImport, modName, name, modName, r.moduleNames())
		}
		want, ok := fns[name]
		if !ok {
			hint := ""
			if h := r.hints[modName]; h != "" {
				hint = " — " + h
			}
			return fmt.Errorf("%w %s.%s%s", ErrUnknownImport, modName, name, hint)
		}
		if !slices.Equal(want.ParamTypes(), def.ParamTypes()) || !slices.Equal(want.ResultTypes(), def.ResultTypes()) {
			return fmt.Errorf("%w: %s.%s is imported as %s but Cronbox defines it as %s", ErrUnknownImport, modName, name, signature(def), signature(want))
		}
	}
	for _, mem := range compiled.ImportedMemories() {
		modName, name, _ := mem.Import()
		return fmt.Errorf("%w: memory %s.%s: a module must define its own memory", ErrUnknownImport, modName, name)
	}
	for _, mem := range compiled.ExportedMemories() {
		m.MinMemory = max(m.MinMemory, int64(mem.Min())*pageSize)
	}
	if m.image != nil { // the memory, exported or not, holds the image
		m.MinMemory = max(m.MinMemory, int64(m.image.Size+pageSize-1)/pageSize*pageSize)
	}
	start, ok := compiled.ExportedFunctions()["_start"]
	if !ok {
		return fmt.Errorf("%w: the module exports no _start function", ErrNotCommand)
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("%w: _start must take and return nothing, it is %s", ErrNotCommand, signature(start))
	}
	return nil
}

func (r *Runtime) moduleNames() string {
	names := make([]string, 0, len(r.known))
	for n := range r.known {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, " and ")
}

func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(def.ParamTypes()) + " -> " + names(def.ResultTypes())
}
