// Package wasi is Cronbox's WASI preview 1 module: wazero's implementation
// of wasi_snapshot_preview1, with the file descriptor functions wrapped so
// that they behave as the WASI test suite expects where wazero's do not.
//
// wazero keeps its descriptor table to itself, so Cronbox keeps one of its
// own in front of it: every descriptor the guest sees maps to one of
// wazero's, and carries what wazero does not track. That gives the guest
//
//   - rights: a descriptor has the rights it was opened with (those asked
//     for, within the inheriting rights of its directory, and those wazero
//     grants its type), fd_fdstat_set_rights drops them, and a call that
//     needs a right the descriptor lost fails with ENOTCAPABLE;
//   - fd_renumber of any open descriptor over any other, preopens and
//     standard I/O included, and EBADF for a closed destination;
//   - the DSYNC, RSYNC and SYNC flags a file was opened with, in fd_fdstat_get;
//   - fd_prestat_dir_name into a buffer larger than the name;
//   - path_readlink truncating to the buffer instead of failing;
//   - path_filestat_set_times on a symbolic link itself;
//   - poll_oneoff on standard I/O (always ready; stdin holds nothing) and
//     on files, sleeping until the first clock otherwise, cut short when
//     the run ends;
//   - sock_shutdown failing with ENOTSOCK on descriptors that are not
//     sockets.
//
// A guest whose context carries no State (see WithState), or that has no
// memory, gets wazero's functions unchanged.
package wasi

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cronbox/cronbox/internal/hold"
)

// ModuleName is the name of the module guests import.
const ModuleName = wasi_snapshot_preview1.ModuleName

var le = binary.LittleEndian

// State is a run's descriptor table. Make one per instance with NewState
// and pass it in the context of every call of the guest (WithState).
type State struct {
	mounts []FS
	fds    map[uint32]*entry
	ready  bool
}

// FS is what State needs of a mounted file system beyond wazero's use of
// it: reading a link and setting a link's own times.
type FS interface {
	experimentalsys.FS
	// Lutimens is Utimens that does not follow a final symbolic link.
	Lutimens(path string, atim, mtim int64) experimentalsys.Errno
}

// NewState returns the table of an instance whose file systems are mounts,
// in the order they were mounted: wazero preopens them as descriptors 3,
// 4, and so on.
func NewState(mounts []FS) *State {
	return &State{mounts: mounts, fds: map[uint32]*entry{}}
}

type stateKey struct{}

// WithState returns ctx carrying s for the WASI functions.
func WithState(ctx context.Context, s *State) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}

// entry is a descriptor of the guest.
type entry struct {
	host      uint32 // wazero's descriptor
	base, inh uint64 // the descriptor's rights
	// hostBase and hostInh are the rights wazero grants the descriptor.
	hostBase, hostInh uint64
	sync              uint16 // DSYNC, RSYNC and SYNC as opened
	preopen           bool
	mount             int    // index in State.mounts, or -1
	path              string // wazero's name of the file in its mount ("" for a preopen)
	isDir             bool
	filetype          uint8
}

// Instantiate defines the module ModuleName in r.
func Instantiate(ctx context.Context, r wazero.Runtime) error {
	inner := r.NewHostModuleBuilder(ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(inner)
	compiled, err := inner.Compile(ctx)
	if err != nil {
		return err
	}
	defer compiled.Close(ctx)
	defs := compiled.ExportedFunctions()
	orig := map[string]api.GoModuleFunction{}
	for name, def := range defs {
		fn, ok := def.GoFunction().(api.GoModuleFunction)
		if !ok {
			return fmt.Errorf("wasi: wazero's %s is not a Go module function", name)
		}
		orig[name] = fn
	}
	w := &wrapper{orig: orig}
	b := r.NewHostModuleBuilder(ModuleName)
	for name, def := range defs {
		fn := orig[name]
		if o := w.override(name); o != nil {
			fn = o
		}
		if !private[name] {
			fn = gated(fn, len(def.ResultTypes()) > 0)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(fn, def.ParamTypes(), def.ResultTypes()).
			WithParameterNames(def.ParamNames()...).
			WithResultNames(def.ResultNames()...).
			Export(name)
	}
	_, err = b.Instantiate(ctx)
	return err
}

// private are the functions whose reads and writes stay inside the
// instance: its arguments, environment, clocks, random source, and its
// descriptor table and flags (Go's start-up sets standard I/O
// non-blocking). They are what a guest's start-up calls, and need not
// wait at a held run's gate. Every other function may have an effect, or
// read what may change by the time the run has its work, and passes the
// gate first.
var private = map[string]bool{
	"args_get": true, "args_sizes_get": true,
	"environ_get": true, "environ_sizes_get": true,
	"clock_res_get": true, "clock_time_get": true,
	"random_get": true, "sched_yield": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true,
	"fd_fdstat_get": true, "fd_fdstat_set_flags": true,
}

// gated makes fn pass the gate of a held run (package hold) first; a
// run that ends at the gate gets ECANCELED, or, from a function without
// a result (proc_exit), nothing: its run is ending.
func gated(fn api.GoModuleFunction, hasResult bool) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if !hold.Pass(ctx) {
			if hasResult {
				stack[0] = errnoCanceled
			}
			return
		}
		fn.Call(ctx, mod, stack)
	})
}

// wrapper holds wazero's functions, which the overrides call.
type wrapper struct {
	orig map[string]api.GoModuleFunction
}

// call is one call of a guest: the state, the guest and the stack.
type call struct {
	ctx   context.Context
	mod   api.Module
	stack []uint64
	s     *State
	w     *wrapper
}

// fn adapts an implementation to wazero: without a State it calls wazero's
// function of that name unchanged.
func (w *wrapper) fn(name string, impl func(c *call) uint32) api.GoModuleFunction {
	orig := w.orig[name]
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		s, _ := ctx.Value(stateKey{}).(*State)
		if s == nil || mod.Memory() == nil { // without memory, wazero's fail alike
			orig.Call(ctx, mod, stack)
			return
		}
		c := &call{ctx: ctx, mod: mod, stack: stack, s: s, w: w}
		s.init(c)
		stack[0] = uint64(impl(c))
	})
}

// delegate calls wazero's function name with the stack as it is now and
// returns its errno.
func (c *call) delegate(name string) uint32 {
	c.w.orig[name].Call(c.ctx, c.mod, c.stack)
	return uint32(c.stack[0])
}

// init fills the table with what wazero opened: standard I/O and the
// preopens.
func (s *State) init(c *call) {
	if s.ready {
		return
	}
	s.ready = true
	for fd := uint32(0); fd < 3+uint32(len(s.mounts)); fd++ {
		e := &entry{host: fd, mount: -1, preopen: fd >= 3}
		if fd >= 3 {
			e.mount = int(fd - 3)
		}
		if errno := c.hostStat(e); errno != 0 {
			continue
		}
		e.base, e.inh = e.hostBase, e.hostInh
		s.fds[fd] = e
	}
}

// hostStat sets e's file type and the rights wazero grants it, asking
// wazero's fd_fdstat_get.
func (c *call) hostStat(e *entry) uint32 {
	var buf [24]byte
	errno := c.scratch(24, func(addr uint32) uint32 {
		st := []uint64{uint64(e.host), uint64(addr)}
		c.w.orig["fd_fdstat_get"].Call(c.ctx, c.mod, st)
		if st[0] == 0 {
			b, _ := c.mod.Memory().Read(addr, 24)
			copy(buf[:], b)
		}
		return uint32(st[0])
	})
	if errno != 0 {
		return errno
	}
	e.filetype = buf[0]
	e.isDir = e.filetype == filetypeDirectory
	e.hostBase, e.hostInh = le.Uint64(buf[8:]), le.Uint64(buf[16:])
	return 0
}

// scratch runs fn with n bytes of guest memory at addr to pass to wazero's
// functions, and puts back what the memory held there afterwards: the guest
// is single-threaded and waits in this call.
func (c *call) scratch(n uint32, fn func(addr uint32) uint32) uint32 {
	mem := c.mod.Memory()
	if mem == nil || mem.Size() < n {
		return errnoNomem
	}
	b, _ := mem.Read(0, n)
	saved := bytes.Clone(b)
	defer mem.Write(0, saved)
	return fn(0)
}

// lookup returns the guest's descriptor fd, or nil.
func (s *State) lookup(fd uint64) *entry { return s.fds[uint32(fd)] }

// allocate records e under a new guest descriptor: wazero's number if the
// guest has none by it, else the lowest free one.
func (s *State) allocate(e *entry) uint32 {
	if _, taken := s.fds[e.host]; !taken {
		s.fds[e.host] = e
		return e.host
	}
	for fd := uint32(0); ; fd++ {
		if _, taken := s.fds[fd]; !taken {
			s.fds[fd] = e
			return fd
		}
	}
}

// translate replaces the guest descriptors at the given stack indexes with
// wazero's, checking that each still has the rights given for it: EBADF
// for an unknown descriptor, ENOTCAPABLE for a right it lost.
func (c *call) translate(idx []int, rights []uint64) uint32 {
	for i, at := range idx {
		e := c.s.lookup(c.stack[at])
		if e == nil {
			return errnoBadf
		}
		if errno := e.need(rights[i]); errno != 0 {
			return errno
		}
		c.stack[at] = uint64(e.host)
	}
	return 0
}

// need returns ENOTCAPABLE if e lacks a right of r. For a file or
// standard I/O, only the rights wazero grants its type count: those it
// never grants are left for wazero to refuse as it does. A directory
// needs them all: wazero lets some file operations through on one.
func (e *entry) need(r uint64) uint32 {
	missing := r &^ e.base
	if !e.isDir {
		missing &= e.hostBase
	}
	if missing != 0 {
		return errnoNotcapable
	}
	return 0
}

// guestPath resolves a path argument against the directory e as wazero
// does: cleaned, refused with EPERM if it climbs out or is absolute, a
// trailing slash kept, and joined to the directory's own name.
func (c *call) guestPath(e *entry, ptr, n uint64) (string, uint32) {
	b, ok := c.mod.Memory().Read(uint32(ptr), uint32(n))
	if !ok {
		return "", errnoFault
	}
	p := string(b)
	slash := strings.HasSuffix(p, "/")
	p = path.Clean(p)
	if !fs.ValidPath(p) {
		return "", errnoPerm
	}
	if slash {
		p += "/"
	}
	switch {
	case !e.isDir:
		return "", errnoNotdir
	case e.preopen:
		return p, 0
	default:
		return e.path + "/" + p, 0
	}
}

// fsOf returns the mounted file system e is in.
func (c *call) fsOf(e *entry) FS {
	if e.mount < 0 || e.mount >= len(c.s.mounts) {
		return nil
	}
	return c.s.mounts[e.mount]
}

// write writes b at ptr, reporting EFAULT.
func (c *call) write(ptr uint32, b []byte) uint32 {
	if !c.mod.Memory().Write(ptr, b) {
		return errnoFault
	}
	return 0
}
