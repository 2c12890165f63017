package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/hold"
	"github.com/cronbox/cronbox/runtime/internal/instrument"
	"github.com/cronbox/cronbox/runtime/internal/jailfs"
	"github.com/cronbox/cronbox/runtime/internal/wasi"
)

// Spec describes one run.
type Spec struct {
	// ID labels the run in Instances; the runtime does not interpret it.
	ID string
	// Args is the guest's argv. Default: ["task"].
	Args []string
	// Env is the guest's environment, as "KEY=VALUE" strings. Default: empty.
	Env []string
	// Mounts are host directories the guest may see. Default: none, and
	// the guest has no filesystem at all.
	Mounts []Mount
	// Limits bound the run; zero fields take the runtime's defaults.
	Limits Limits
	// Stdout and Stderr, if set, receive the guest's output as it is
	// written, up to the output limit (what is kept is what they see).
	Stdout, Stderr io.Writer
	// Account, if set, is the run's account of memory and usage: give the
	// same one to the run's host functions, so that what they hold counts
	// against the memory limit and what they move shows in Result.Usage.
	// One account serves one run. Default: Run makes one, which only the
	// runtime's own buffers (captured output) report to.
	Account *Account
	// Hold, if set, starts the run ahead of its work: see Hold. Default
	// nil: the run goes at once.
	Hold *Hold
}

// Hold holds a run back at its first effect, so that a guest's start-up
// (its language runtime, its initialisers) is done before its work
// arrives. The guest is instantiated and runs; its first call of a host
// function that can have an effect waits until Release: every WASI
// function but those that only read the instance's own arguments,
// environment, clocks, random source and descriptor table, and every
// function of a host module that passes the gate (package hostapi's do).
// Nothing the guest does before Release leaves the instance.
//
// The run's time limit bounds its start-up, up to its first effect;
// waiting at the gate is not bounded (the owner ends it by cancelling the
// run's context); the limit counts again, whole, from Release. The run's
// Result starts at Release too, but for its CPU time and peak memory,
// which are the instance's own since it started.
//
// A Hold serves one run.
type Hold struct {
	g    *hold.Gate
	used atomic.Bool
}

// NewHold returns a Hold for one run.
func NewHold() *Hold { return &Hold{g: hold.New()} }

// Release lets the held run go on: set what its host functions are to
// read before calling it (Release is their happens-before edge). It
// reports false if the run ended, or is ending, without its work (it
// exited, trapped or ran past its time limit before its first effect, or
// was cancelled): the caller then runs its work in a run of its own. A
// run still starting is released too, and goes on at its first effect.
func (h *Hold) Release() bool { return h.g.Release() }

// Waiting returns a channel closed once the held guest has started and
// waits for Release at its first effect.
func (h *Hold) Waiting() <-chan struct{} { return h.g.Arrived() }

// Mount grants the guest one host directory, as a jail: nothing outside
// HostDir is reachable from it, through "..", absolute paths or symlinks.
type Mount struct {
	HostDir   string
	GuestPath string // absolute, e.g. "/data"; "/" is allowed
	ReadOnly  bool
	// Quota, if not nil, bounds the bytes stored under HostDir. Give the
	// same DiskQuota to every run of an app, and only for this HostDir.
	Quota *DiskQuota
}

// DiskQuota bounds the bytes stored in a mounted directory, shared by the
// runs given it. It counts the size of regular files plus 4096 bytes for
// every file, directory and symbolic link, starting from what the directory
// holds when the first run mounts it. A write, truncation or creation that
// would pass the limit fails in the guest with EIO, whole.
type DiskQuota struct {
	q *jailfs.Quota
}

// NewDiskQuota returns a DiskQuota of limit bytes. A limit of zero or less
// lets a guest store nothing more.
func NewDiskQuota(limit int64) *DiskQuota {
	return &DiskQuota{q: jailfs.NewQuota(limit)}
}

// Used returns the bytes counted against the quota.
func (d *DiskQuota) Used() int64 { return d.q.Used() }

// Measure counts what dir holds against the quota, unless a run or an
// earlier Measure did: a quota is measured once, at its first use, for one
// directory only.
func (d *DiskQuota) Measure(dir string) error { return d.q.Measure(dir) }

// Refusals returns how many guest operations the quota has refused so far,
// in all the runs given it.
func (d *DiskQuota) Refusals() int64 { return d.q.Refusals() }

// Limit returns the quota's limit in bytes.
func (d *DiskQuota) Limit() int64 { return d.q.Limit() }

// errTimedOut is the cause of a run's context ending at its time limit.
var errTimedOut = errors.New("time limit reached")

// liveRun is a run with an instance.
type liveRun struct {
	id      string
	module  *Module
	started time.Time
	gate    *hold.Gate // nil unless held
	mem     *runMemory
	stop    api.MutableGlobal
	budget  api.MutableGlobal
	cancel  context.CancelCauseFunc
}

// halt makes the guest trap at its next loop head or function entry.
func (l *liveRun) halt() {
	l.stop.Set(1)
	l.budget.Set(0)
}

// Instance describes a live instance.
type Instance struct {
	RunID   string
	Module  string // hash
	Started time.Time
	Memory  int64 // bytes of linear memory now
	// Waiting: the run was started ahead (Spec.Hold) and waits for its
	// work.
	Waiting bool
}

// Instances lists the live instances.
func (r *Runtime) Instances() []Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Instance, 0, len(r.live))
	for l := range r.live {
		out = append(out, Instance{RunID: l.id, Module: l.module.Hash, Started: l.started, Memory: l.mem.acct.guestSize(), Waiting: l.gate != nil && l.gate.Waiting()})
	}
	return out
}

// Run runs m once, in a fresh instance, and returns how it ended. It
// returns an error only when the run could not start: a bad Spec, a module
// that does not fit the memory limit, a directory that cannot be mounted,
// or an instantiation failure. Anything after the guest starts is a Result.
//
// Cancelling ctx stops the run promptly (StatusCancelled); the values in
// ctx are visible to every host function the guest calls.
func (r *Runtime) Run(ctx context.Context, m *Module, spec Spec) (*Result, error) {
	lim, err := spec.Limits.resolve(r.cfg.Defaults, r.cfg.Ceiling)
	if err != nil {
		return nil, fmt.Errorf("starting run: %w", err)
	}
	if m.MinMemory > lim.Memory {
		return nil, fmt.Errorf("starting run: %w: the module needs %s of memory at start; the limit is %s", ErrLimit, bytesize.Format(m.MinMemory), bytesize.Format(lim.Memory))
	}
	var gate *hold.Gate // nil unless held: With carries it anyway
	if spec.Hold != nil {
		if spec.Hold.used.Swap(true) {
			return nil, errors.New("starting run: its Hold served a run already")
		}
		gate = spec.Hold.g
		defer gate.End()
	}
	acct := spec.Account
	if acct == nil {
		acct = NewAccount()
	}
	if err := acct.bind(uint64(lim.Memory)); err != nil {
		return nil, fmt.Errorf("starting run: %w", err)
	}
	cfg, mounts, closeFS, err := r.moduleConfig(spec, acct)
	if err != nil {
		return nil, fmt.Errorf("starting run: %w", err)
	}
	defer closeFS()

	stdout := &capture{max: lim.Output, acct: acct, tee: spec.Stdout}
	stderr := &capture{max: lim.Output, acct: acct, tee: spec.Stderr}
	// The guest's descriptor table, in front of wazero's (see package wasi).
	runCtx, cancel := context.WithCancelCause(wasi.WithState(ctx, wasi.NewState(mounts)))
	defer cancel(nil)
	// The time limit cancels the same context (one context, not a second
	// one with a deadline beneath it). A held run's gate moves it.
	limit := time.AfterFunc(lim.Timeout, func() { cancel(errTimedOut) })
	defer limit.Stop()
	// What the guest's calls see: the gate on top, where the host
	// functions find it first.
	callCtx := hold.With(runCtx, gate)
	mem := &runMemory{pool: r.pool, image: m.image, limit: uint64(lim.Memory), acct: acct}
	cfg = cfg.WithStdout(stdout).WithStderr(stderr).WithNanosleep(sleeper(runCtx))

	// The guest, and the host functions it calls, run on this goroutine:
	// locked to its thread, the thread's CPU clock is the run's CPU time.
	// A held run lets go of its thread while it waits at its gate.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	cpu := &cpuMeter{from: threadCPU()}
	if gate != nil {
		gate.Start(limit, lim.Timeout, cpu.park, cpu.unpark)
	}
	started := time.Now()
	c := m.acquire()
	defer m.release(ctx, c)
	m.runs.Add(1)
	if c.tier == TierInterpreter {
		m.interpreted.Add(1)
	}
	m.instances.Add(1)
	defer m.instances.Add(-1)
	mod, err := c.rt.InstantiateModule(experimental.WithMemoryAllocator(runCtx, mem), c.compiled, cfg)
	if err != nil {
		if mem.err != nil {
			return nil, fmt.Errorf("starting run: %w", mem.err)
		}
		return nil, fmt.Errorf("starting run: instantiating module: %w", err)
	}
	defer mod.Close(context.WithoutCancel(ctx))

	live := &liveRun{id: spec.ID, module: m, started: started, gate: gate, mem: mem, cancel: cancel}
	live.stop = mod.ExportedGlobal(instrument.StopGlobal).(api.MutableGlobal)
	live.budget = mod.ExportedGlobal(instrument.BudgetGlobal).(api.MutableGlobal)
	r.mu.Lock()
	r.live[live] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.live, live)
		r.mu.Unlock()
	}()
	// The guest checks its budget at every loop head and function entry;
	// halting is what ends a guest that never calls the host. (The
	// interpreter checks runCtx itself: see newWazero.)
	if c.tier == TierNative {
		defer context.AfterFunc(runCtx, live.halt)()
	}

	if m.hadStart {
		_, err = mod.ExportedFunction(instrument.StartExport).Call(callCtx)
	}
	if err == nil {
		_, err = mod.ExportedFunction("_start").Call(callCtx)
	}
	if gate != nil {
		gate.End()
		if at, ok := gate.Released(); ok {
			started = at
		}
	}
	res := &Result{
		Started:    started,
		Duration:   time.Since(started),
		PeakMemory: acct.Peak(),
	}
	res.Usage = Usage{
		CPUTime:      cpu.total(),
		PeakMemory:   res.PeakMemory,
		OutputBytes:  stdout.kept() + stderr.kept(),
		LogBytes:     acct.log.Load(),
		HTTPSent:     acct.httpSent.Load(),
		HTTPReceived: acct.httpReceived.Load(),
		KVWritten:    acct.kv.Load(),
		FilesWritten: acct.files.Load(),
	}
	res.Stdout, res.StdoutDropped = stdout.result()
	res.Stderr, res.StderrDropped = stderr.result()
	res.classify(err, runCtx, mem, lim)
	return res, nil
}

// moduleConfig is the instance configuration of a run, but for its output
// and sleep, which depend on the run's context, and its mounted file
// systems, in order. Writes to mounted directories are metered in acct.
func (r *Runtime) moduleConfig(spec Spec, acct *Account) (wazero.ModuleConfig, []wasi.FS, func(), error) {
	cfg := r.base // with the default arguments
	if len(spec.Args) > 0 {
		cfg = cfg.WithArgs(spec.Args...)
	}
	for _, kv := range spec.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, nil, nil, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
		cfg = cfg.WithEnv(k, v)
	}
	if len(spec.Mounts) == 0 {
		return cfg, nil, func() {}, nil
	}
	fsc := wazero.NewFSConfig()
	var jails []*jailfs.FS
	var mounts []wasi.FS
	closeAll := func() {
		for _, j := range jails {
			_ = j.Close()
		}
	}
	for _, mnt := range spec.Mounts {
		if !strings.HasPrefix(mnt.GuestPath, "/") {
			closeAll()
			return nil, nil, nil, fmt.Errorf("mount %s: guest path %q is not absolute", mnt.HostDir, mnt.GuestPath)
		}
		var j *jailfs.FS
		var err error
		if mnt.Quota != nil {
			j, err = jailfs.NewWithQuota(mnt.HostDir, mnt.ReadOnly, mnt.Quota.q)
		} else {
			j, err = jailfs.New(mnt.HostDir, mnt.ReadOnly)
		}
		if err != nil {
			closeAll()
			return nil, nil, nil, fmt.Errorf("mount %s: %w", mnt.HostDir, err)
		}
		j.CountWrites(&acct.files)
		jails = append(jails, j)
		mounts = append(mounts, j)
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(j, mnt.GuestPath)
	}
	return cfg.WithFSConfig(fsc), mounts, closeAll, nil
}

// baseModuleConfig is what the instance configuration of every run
// shares, made once: each With of a wazero.ModuleConfig copies it.
func baseModuleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithName("").
		WithArgs("task").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithOsyield(goruntime.Gosched)
}

// sleeper is the guest's sleep: real time, cut short when the run ends.
func sleeper(ctx context.Context) sys.Nanosleep {
	return func(ns int64) {
		if ns <= 0 {
			return
		}
		t := time.NewTimer(time.Duration(ns))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// cpuMeter is a run's CPU time: the CPU clock of the thread its goroutine
// is locked to, summed over the threads it was locked to. A held run's
// goroutine lets go of its thread while it waits at its gate (park) and
// locks the thread it resumes on (unpark): a goroutine locked to a thread
// could only go on there, so its release would wait until the kernel woke
// that sleeping thread, where an unlocked one goes on on the releasing
// goroutine's thread, which is about to wait for it.
type cpuMeter struct {
	spent time.Duration // on the threads it let go of
	from  time.Duration // the current thread's clock when it was locked
}

func (c *cpuMeter) park() {
	c.spent += threadCPU() - c.from
	goruntime.UnlockOSThread()
}

func (c *cpuMeter) unpark() {
	goruntime.LockOSThread()
	c.from = threadCPU()
}

// total is the run's CPU time so far; the caller is the run's goroutine.
func (c *cpuMeter) total() time.Duration { return c.spent + threadCPU() - c.from }
