// Package instrument rewrites WebAssembly modules so that the host can stop a
// running guest, and bounds what a guest can make the host allocate.
//
// # Stopping a guest
//
// wazero's RuntimeConfig.WithCloseOnContextDone stops a guest by calling into
// the host at every loop header, which slows tight loops many times. Instead,
// Instrument makes the guest count down a budget held in a global, and check
// a stop flag, held in another, only when the budget runs out.
//
// Checking a flag without ever leaving compiled code is not enough. Go cannot
// preempt a goroutine that runs code wazero compiled (the preemption signal
// finds no Go function at the interrupted PC), so a guest spinning in a loop
// that never calls into Go blocks every stop-the-world phase of the process,
// such as those that start and end each garbage collection: the whole host
// freezes, including the goroutine that would set the flag. So whenever the
// budget runs out, the guest calls into Go: it executes memory.grow 0, which
// wazero always implements by leaving compiled code for a Go function, and
// which has no effect with a delta of 0.
//
// The budget counts checks, which Instrument inserts at the head of every
// loop body and at the entry of every function. Each function keeps the
// budget in a local of its own while it runs, a register in compiled code,
// and stores it to the global only where another function or the host may
// read it: before calls and on the way out. Any unbounded computation
// either loops or calls functions (an exponential call tree can run for ages
// without a loop and without growing deep), so it passes checks regularly:
// between two of them, a guest runs only straight-line code and returns,
// plus bulk memory and table instructions and calls to the host. Every
// YieldInterval checks, the guest enters Go and reads the stop flag, trapping
// with unreachable once the host has set it. The host sets the budget to 0
// as well to make that happen sooner: at the next check after a function
// loads the budget from the global, and at the latest when the local of the
// running function runs out. A goroutine running a guest
// thus reaches a point where the Go scheduler can stop it every
// YieldInterval checks.
//
// The guest cannot reach the added globals and locals to refill its own
// budget: code naming a global beyond the module's own, or a local beyond
// its function's own, is refused rather than left for the added ones to make
// valid.
//
// # The start function
//
// A module's start function runs while wazero instantiates the module, before
// the host holds the instance and so before it can set the stop flag: a start
// function that loops forever would hang instantiation. Instrument removes the
// start section and exports the start function as StartExport instead; the
// host calls it right after instantiation, as wazero would have done.
//
// # Tables
//
// wazero allocates the elements of a table on the Go heap, eight bytes each,
// and table.grow takes a delta of up to 2^32-1 elements: a guest could make
// the host allocate 32 GiB outside the guest's memory limit. Instrument caps
// the maximum size of every defined table at MaxTableElements, so that
// table.grow beyond it fails (returns -1) instead, refuses tables whose
// minimum size exceeds the cap, and refuses modules with more than 100
// tables. It leaves imported tables alone: the host provides them. A module
// can still hold 100 tables of MaxTableElements elements: 800 MiB.
//
// # Data segments
//
// wazero applies every active data segment of a module at every
// instantiation, evaluating its offset expression and copying its bytes. The
// Go linker emits the data of a program as tens of thousands of small
// segments, split wherever 8 zero bytes or more separate two values:
// applying them took a quarter of the run of a trivial Go task. Instrument
// merges consecutive segments that write at constant offsets, in ascending
// order and at most maxDataGap bytes apart, into one segment holding the
// zeros between them: a Go program instantiates with a handful of segments.
//
// Merging is invisible to the guest. A merged segment spans exactly the
// bytes from the start of its first member to the end of its last, so it is
// out of bounds, failing the instantiation, exactly when one of its members
// is (wazero's error then gives the index of the merged segment). It writes
// zeros only where memory still holds the zeros it starts with, which
// Instrument makes sure no earlier segment wrote to. Segments are
// renumbered, which only memory.init and data.drop could tell, and those
// require a data count section: Instrument leaves the data section of a
// module with a data count section as it is. (Names that a name section may
// give data segments, which wazero ignores, keep their old indices.) It also
// leaves the data section of a module that imports its memory, whose
// contents and partial initialization, when a segment is out of bounds, the
// exporter sees.
package instrument

import (
	"errors"
	"fmt"
	"math"
)

// Names of the exports that Instrument adds.
const (
	// StopGlobal is a mutable i32 global, initially 0. Setting it to 1 makes
	// the guest trap (unreachable) when it next runs out of budget.
	StopGlobal = "__cronbox_stop"
	// BudgetGlobal is a mutable i32 global: the number of checks left before
	// the guest calls into Go and reads StopGlobal. Setting it to 0 makes the
	// guest do so at its next check.
	BudgetGlobal = "__cronbox_budget"
	// StartExport is the module's start function, exported when Instrument
	// removed the start section (see Info.HadStart).
	StartExport = "__cronbox_start"
)

// YieldInterval is the number of checks that pass between two calls into Go.
// It trades the cost of a call into Go (about 50 ns, measured) against how
// long a stop-the-world phase may wait for a spinning guest. With 10000, the
// tightest loop (about 0.6 ns an iteration) calls into Go every 7 µs and
// spends under 1% of its time there, while the stop-the-world phases of the
// garbage collector wait no longer than with only Go goroutines to preempt
// (tens of µs). Each check costs about 0.08 ns more, whatever the interval:
// 13% of that loop. BenchmarkLoop and BenchmarkGCWhileSpinning measure both
// sides.
const YieldInterval = 10000

// MaxTableElements is the maximum size of each table that a module defines.
const MaxTableElements = 1 << 20

// maxTables is the maximum number of tables, imported and defined, of a
// module.
const maxTables = 100

// MaxLocals is the maximum number of locals a function may declare (the
// limit browsers apply). Locals are run-length encoded, so a few bytes can
// declare four billion of them, and wazero allocates per local.
const MaxLocals = 50000

// maxDataGap is the largest number of zero bytes between two data segments
// that Instrument fills in to merge them. The Go linker ends a segment at 8
// zero bytes or more, and 99.9% of the segments of the Go programs measured
// are less than 80 bytes apart: with 256, the largest measured (62,203
// segments) instantiates with 6 segments, against 84 with 64. Applying a
// segment costs wazero about 40 ns, as much as copying 2 KiB of zeros, so
// no merge costs more than it saves. BenchmarkInstantiateGo measures
// instantiation with thresholds around this one.
const maxDataGap = 256

// Info tells what the host must do with an instrumented module.
type Info struct {
	// HadStart reports that the module had a start function, which
	// Instrument removed from the start section and exported as
	// StartExport: the host must call it right after instantiation.
	HadStart bool
	// DataSegmentsIn and DataSegmentsOut are the numbers of data segments
	// in the input and in the output, which has fewer when Instrument
	// merged some.
	DataSegmentsIn, DataSegmentsOut int
	// Image, set only by InstrumentImage, holds what the data segments
	// that it took out of the module write to memory 0 at instantiation.
	Image *Image
}

// ErrMalformed is wrapped by the errors that Instrument returns for input that
// is not a well-formed WebAssembly 2.0 binary module, including instructions
// it does not know.
var ErrMalformed = errors.New("malformed WebAssembly binary")

// ErrLimit is wrapped by the errors that Instrument returns for a module that
// defines a table whose minimum size exceeds MaxTableElements, that has more
// than 100 tables, or a function with more than MaxLocals locals.
var ErrLimit = errors.New("module exceeds a limit of the instrumentation")

// errAmbiguousOpcode is wrapped, with ErrMalformed, by the error for a SIMD
// opcode that wazero would decode differently from the specification.
var errAmbiguousOpcode = errors.New("encoding that wazero decodes differently")

// errReservedExport is wrapped by the error for a module that already exports
// a name that Instrument adds.
var errReservedExport = errors.New("export name reserved for the instrumentation")

// Instrument returns a copy of the WebAssembly binary module wasm rewritten
// as the package documentation describes:
//
//   - Two mutable i32 globals are appended after all existing globals, so
//     that no global index shifts: $stop, initially 0, and $budget,
//     initially YieldInterval, exported as StopGlobal and BudgetGlobal.
//   - A function $slow of type () -> () is appended after all functions, so
//     that no function index shifts, with the body
//     `i32.const 0; memory.grow 0; drop; global.get $stop; if; unreachable;
//     end; i32.const YieldInterval; global.set $budget`. Its type is the
//     first () -> () of the type section, or one appended to it. Its name
//     is added to the function names of the "name" section, if the module
//     has a well-formed one.
//   - A memory of 0 pages at most is added if the module has none, for
//     memory.grow.
//   - Every function body, $slow excepted, declares one more i32 local,
//     $b, after its own, which holds the budget while the function runs:
//     its entry (just after the local declarations) gets `global.get
//     $budget; local.set $b`, every call and call_indirect gets `local.get
//     $b; global.set $budget` before it and `global.get $budget; local.set
//     $b` after it, and every return, every branch (br, br_if, br_table)
//     that may target the function's own label and the final end get
//     `local.get $b; global.set $budget` before them.
//   - The head of every loop body and the entry of every function body,
//     after the load of $b, get the check `local.get $b; i32.const 0;
//     i32.le_s; if; call $slow; global.get $budget; local.set $b; end;
//     local.get $b; i32.const 1; i32.sub; local.set $b`. It compares with
//     le_s rather than testing for 0 because the host's write of 0 may
//     land between the guest's read and write of the budget, leaving -1.
//     A write of the host may also be overwritten by the guest's next
//     store of $b; the stop global is then read when $b runs out, within
//     YieldInterval checks.
//   - The start section is removed and its function exported as
//     StartExport; Info.HadStart tells.
//   - Defined tables whose maximum size is absent or greater than
//     MaxTableElements get MaxTableElements as maximum.
//   - Unless the module has a data count section or imports a memory, runs
//     of consecutive active data segments of memory 0 whose offsets are
//     `i32.const N`, each starting at or after the end of the previous one,
//     by at most maxDataGap bytes, are each merged into one segment
//     `0x00 (i32.const first offset) bytes`, with zeros filling the gaps. A
//     gap that an earlier segment may write to, or that would make the
//     added zeros outnumber the bytes of the input's data section by more
//     than 64 KiB, ends the run instead; so does a segment whose end
//     overflows 32 bits. Other
//     segments keep their place and encoding. Info.DataSegmentsIn and
//     DataSegmentsOut tell the counts.
//
// Everything else in the module is preserved byte for byte: all other
// sections, including custom sections, keep their order and content, except
// custom sections named ".debug_*", which are dropped because the DWARF they
// hold refers to code offsets that the rewrite moves, and a data count
// section ending the module without a whole number, which wazero reads as 0
// and the output holds as 0. Sizes and counts of rewritten sections, function
// bodies and name subsections are re-encoded as minimal LEB128. Sections that
// the module lacks are created at their place in the section order.
//
// Instrument accepts the WebAssembly 2.0 instruction set (including SIMD,
// bulk memory and reference types), and the encodings of value and table
// types that wazero decodes beyond it (typed references, exnref, tables with
// an initializer or of any element type), so that it accepts every module
// wazero does. It returns an
// error wrapping ErrMalformed for anything else, including SIMD instructions
// encoded so that wazero, which reads the sub-opcode after the 0xfd prefix as
// one byte rather than as LEB128, would decode them differently (a loop hidden
// in the difference would escape instrumentation), global.get or
// global.set of an index beyond the module's globals, and local.get,
// local.set or local.tee of an index beyond the function's locals (which the
// appended globals and local would make valid, letting the guest reset its
// own budget). It
// returns an error wrapping ErrLimit for a module beyond the table limits, and
// an error if the module already exports StopGlobal, BudgetGlobal or
// StartExport. Instrument does not fully validate the module: wazero does
// when compiling the result.
func Instrument(wasm []byte) ([]byte, Info, error) {
	return instrument(wasm, defaultOptions)
}

// options are the parameters of the instrumentation, which tests and
// benchmarks vary.
type options struct {
	// yieldInterval is the budget that $slow refills; it must be positive.
	yieldInterval int32
	// maxDataGap is the largest gap between data segments filled in to
	// merge them.
	maxDataGap uint32
	// image is whether to take the data segments out (InstrumentImage).
	image bool
}

// defaultOptions are the options of Instrument.
var defaultOptions = options{yieldInterval: YieldInterval, maxDataGap: maxDataGap}

// instrument is Instrument with the given options.
func instrument(wasm []byte, o options) ([]byte, Info, error) {
	m := module{in: wasm, voidType: -1, names: nameSubsection{section: -1}, maxDataGap: o.maxDataGap, wantImage: o.image}
	for id := range m.index {
		m.index[id] = -1
	}
	if err := m.scan(); err != nil {
		return nil, Info{}, err
	}
	out, err := m.rewrite(o.yieldInterval)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{
		HadStart:        m.index[sectionStart] >= 0,
		DataSegmentsIn:  int(m.data.in),
		DataSegmentsOut: int(m.data.out),
		Image:           m.image,
	}
	if m.image != nil {
		info.DataSegmentsOut = 0
	}
	return out, info, nil
}

// Section ids.
const (
	sectionCustom    = 0
	sectionType      = 1
	sectionImport    = 2
	sectionFunction  = 3
	sectionTable     = 4
	sectionMemory    = 5
	sectionGlobal    = 6
	sectionExport    = 7
	sectionStart     = 8
	sectionElement   = 9
	sectionCode      = 10
	sectionData      = 11
	sectionDataCount = 12
)

// sectionNames names the sections by id, for error messages.
var sectionNames = [...]string{
	"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "data count",
}

// sectionOrder gives the rank of each non-custom section id: sections must
// appear by increasing rank. Zero marks the custom section, which may appear
// anywhere.
var sectionOrder = [...]int{
	1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9,
	sectionDataCount: 10, sectionCode: 11, sectionData: 12,
}

// Encodings that Instrument reads or writes outside function bodies.
const (
	importKindFunc   = 0x00
	importKindTable  = 0x01
	importKindMemory = 0x02
	importKindGlobal = 0x03
	exportKindFunc   = 0x00
	exportKindGlobal = 0x03
	globalMutable    = 0x01
)

// debugSectionPrefix starts the names of the DWARF custom sections.
const debugSectionPrefix = ".debug_"

// nameSectionName is the name of the custom section holding debug names.
const nameSectionName = "name"

// Subsections of the name section.
const (
	nameSubsectionModule    = 0
	nameSubsectionFunctions = 1
	nameSubsectionLocals    = 2
)

// section locates a section of the input.
type section struct {
	id      byte
	start   int    // offset of the id byte
	content int    // offset of the first content byte
	items   int    // offset after the item count (vector sections)
	end     int    // offset just past the content
	count   uint32 // item count (vector sections)
	drop    bool   // left out of the output: DWARF or start section
	// truncatedDataCount marks a data count section that ends the module
	// without holding a whole number.
	truncatedDataCount bool
}

// codeBody locates a function body of the input.
type codeBody struct {
	content   int    // offset of the local declarations
	groupsEnd int    // offset just past the count of local declarations
	end       int    // offset just past the final end
	groups    uint32 // number of local declarations
	local     uint32 // index of the added local holding the budget
	inserts   int    // number of insertions: the entry, loops, calls, exits
}

// The kinds of code inserted in a function body.
const (
	insEntry  uint8 = iota // load the budget into its local, then check
	insCheck               // check, at a loop head
	insSpill               // store the local to the budget: before an exit
	insCall                // spill before a call
	insReload              // load the budget into its local: after a call
)

// insertion is code of a kind to insert at an offset of the input.
type insertion struct {
	at   uint32
	kind uint8
}

// cappedTable locates the limits of a defined table whose maximum Instrument
// sets to MaxTableElements.
type cappedTable struct {
	at, end int // offsets of the limits and just past them
	limits  limits
}

// nameSubsection locates the function names subsection of the name section.
type nameSubsection struct {
	section  int    // index in module.sections; -1 when there is none to extend
	start    int    // offset of the subsection id
	countEnd int    // offset after the name count
	end      int    // offset just past the subsection
	count    uint32 // number of names
	last     uint32 // greatest function index named
}

// module is what Instrument learns about its input.
type module struct {
	in       []byte
	sections []section
	// index gives the position in sections of each non-custom section by
	// id, or -1 when the module lacks it.
	index            [sectionDataCount + 1]int
	importedFuncs    uint32
	importedTables   uint32
	importedMemories uint32
	importedGlobals  uint32
	voidType         int64  // index of the first type () -> (), or -1
	start            uint32 // function index of the start section
	tables           []cappedTable
	names            nameSubsection
	bodies           []codeBody
	// typeParams holds the number of parameters of each type, and
	// funcTypes the type of each defined function.
	typeParams, funcTypes []uint32
	// inserts holds, for every insertion in order, the input offset where
	// it goes and its kind: for each body, the entry just after its local
	// declarations, then a check just after the block type of each of its
	// loops, a spill before each call and a reload after it, and a spill
	// before each way out of the function.
	inserts []insertion
	// maxDataGap is the largest gap between data segments filled in to
	// merge them.
	maxDataGap uint32
	data       dataPlan
	// wantImage asks for the data segments to be taken out into image
	// (InstrumentImage).
	wantImage bool
	image     *Image
}

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("instrumenting module: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// overLimit returns an error wrapping ErrLimit.
func overLimit(format string, args ...any) error {
	return fmt.Errorf("instrumenting module: %w: %s", ErrLimit, fmt.Sprintf(format, args...))
}

// count returns the item count of the section with the given id, 0 if the
// module lacks it.
func (m *module) count(id byte) uint32 {
	if k := m.index[id]; k >= 0 {
		return m.sections[k].count
	}
	return 0
}

// globals returns the number of globals of the input.
func (m *module) globals() uint64 {
	return uint64(m.importedGlobals) + uint64(m.count(sectionGlobal))
}

// scan reads the sections of the input, checks their order and decodes those
// that Instrument must understand.
func (m *module) scan() error {
	in := m.in
	if len(in) < 8 || string(in[:4]) != "\x00asm" {
		return malformed("no \\0asm magic number")
	}
	if string(in[4:8]) != "\x01\x00\x00\x00" {
		return malformed("unsupported binary version % x", in[4:8])
	}
	lastOrder := 0
	for i := 8; i < len(in); {
		s := section{id: in[i], start: i}
		if int(s.id) >= len(sectionOrder) {
			return malformed("unknown section id %d at offset %#x", s.id, i)
		}
		name := sectionNames[s.id]
		size, next := readU32(in, i+1)
		if next < 0 {
			return malformed("%s section at offset %#x: malformed size", name, i)
		}
		if uint64(size) > uint64(len(in)-next) {
			return malformed("%s section at offset %#x: size %d exceeds the %d bytes left", name, i, size, len(in)-next)
		}
		s.content, s.end = next, next+int(size)
		if s.id != sectionCustom {
			if sectionOrder[s.id] <= lastOrder {
				return malformed("%s section at offset %#x: out of order or repeated", name, i)
			}
			lastOrder = sectionOrder[s.id]
			m.index[s.id] = len(m.sections)
		}
		if err := m.scanSection(&s, len(m.sections)); err != nil {
			return err
		}
		m.sections = append(m.sections, s)
		i = s.end
	}
	return nil
}

// scanSection decodes section s, the index-th of the module, if Instrument
// needs to understand it.
func (m *module) scanSection(s *section, index int) error {
	b := m.in[:s.end]
	if err := checkCount(b, s); err != nil {
		return err
	}
	switch s.id {
	case sectionCustom:
		n, i := readU32(b, s.content)
		if skipBytes(b, i, uint64(n)) < 0 {
			return malformed("custom section at offset %#x: malformed name", s.start)
		}
		name := b[i : i+int(n)]
		s.drop = len(name) >= len(debugSectionPrefix) && string(name[:len(debugSectionPrefix)]) == debugSectionPrefix
		if string(name) == nameSectionName && m.names.section < 0 {
			m.scanNames(b, i+int(n), index)
		}
		return nil
	case sectionStart:
		var next int
		m.start, next = readU32(b, s.content)
		if next < 0 || next != len(b) {
			return malformed("start section: malformed function index")
		}
		s.drop = true
		return nil
	case sectionImport:
		return m.scanImports(b, s.content)
	case sectionData:
		m.scanData(s)
		if m.wantImage {
			m.takeImage(s)
		}
		return nil
	case sectionDataCount:
		// wazero reads a data count section at the end of the module that
		// holds no whole number (empty, or truncated) as a count of 0.
		// The rewrite writes that count, as the code section will follow.
		if _, next := readU32(b, s.content); next < 0 && s.end == len(m.in) {
			s.truncatedDataCount = true
		}
		return nil
	}
	switch s.id {
	case sectionType, sectionFunction, sectionTable, sectionMemory, sectionGlobal, sectionExport, sectionCode:
		s.count, s.items = readU32(b, s.content)
		if s.items < 0 {
			return malformed("%s section: malformed count", sectionNames[s.id])
		}
	}
	switch s.id {
	case sectionType:
		return m.scanTypes(s)
	case sectionFunction:
		return m.scanFunctions(s)
	case sectionTable:
		return m.scanTables(s)
	case sectionExport:
		return m.scanExports(s)
	case sectionCode:
		return m.scanCode(s)
	}
	return nil
}

// vectorLimit gives, for a section that is a vector of items, the least
// number of bytes an item takes and the most items a module may have (the
// limits browsers apply). wazero allocates from a section's declared count
// before it reads the items, so a count must fit both the bytes that are
// there and the limit before it is passed on.
func vectorLimit(id byte) (minSize, most uint64, ok bool) {
	switch id {
	case sectionType:
		return 3, 1_000_000, true // 0x60, no params, no results
	case sectionImport:
		return 4, 100_000, true // two empty names, a kind, an index
	case sectionFunction:
		return 1, 1_000_000, true // a type index
	case sectionTable:
		return 3, maxTables, true // a reference type and limits
	case sectionMemory:
		return 2, 100, true // limits
	case sectionGlobal:
		return 3, 1_000_000, true // a type, a mutability, an end
	case sectionExport:
		return 3, 100_000, true // an empty name, a kind, an index
	case sectionElement:
		return 3, 10_000_000, true // a flag, an offset's end, a count
	case sectionCode:
		return 2, 1_000_000, true // a size and a local count
	case sectionData:
		return 2, 100_000, true // a passive segment of no bytes
	}
	return 0, 0, false
}

// checkCount checks the declared count of a vector section.
func checkCount(b []byte, s *section) error {
	minSize, most, ok := vectorLimit(s.id)
	if !ok {
		return nil
	}
	count, i := readU32(b, s.content)
	switch {
	case i < 0:
		return malformed("%s section: malformed count", sectionNames[s.id])
	case uint64(count) > uint64(len(b)-i)/minSize:
		return malformed("%s section: %d items cannot fit in %d bytes", sectionNames[s.id], count, len(b)-i)
	case uint64(count) > most:
		return fmt.Errorf("instrumenting module: %w: %d items in the %s section; at most %d are allowed", ErrLimit, count, sectionNames[s.id], most)
	}
	return nil
}

// scanImports counts the imports of each kind, which come before the defined
// items in their index spaces.
func (m *module) scanImports(b []byte, i int) error {
	count, i := readU32(b, i)
	if i < 0 {
		return malformed("import section: malformed count")
	}
	for k := uint32(0); k < count; k++ {
		i = skipName(b, skipName(b, i)) // module and field names
		if i < 0 || i >= len(b) {
			return malformed("import %d: malformed names", k)
		}
		kind := b[i]
		i++
		switch kind {
		case importKindFunc:
			m.importedFuncs++
			i = skipLEB(b, i, maxLEB32)
		case importKindTable:
			m.importedTables++
			i = skipTableType(b, i)
		case importKindMemory:
			m.importedMemories++
			i = skipLimits(b, i)
		case importKindGlobal:
			m.importedGlobals++
			i = skipBytes(b, skipValType(b, i), 1) // type, mutability
		default:
			return malformed("import %d: unknown kind %#x", k, kind)
		}
		if i < 0 {
			return malformed("import %d: malformed type", k)
		}
	}
	if i != len(b) {
		return malformed("import section: %d bytes after the last import", len(b)-i)
	}
	if m.importedTables > maxTables {
		return overLimit("%d imported tables exceed the limit of %d tables", m.importedTables, maxTables)
	}
	return nil
}

// scanTypes looks for the type () -> () among the function types.
func (m *module) scanTypes(s *section) error {
	b := m.in[:s.end]
	i := s.items
	m.typeParams = make([]uint32, 0, s.count)
	for k := uint32(0); k < s.count; k++ {
		next, void := skipFuncType(b, i)
		if next < 0 {
			return malformed("type %d: malformed function type", k)
		}
		if void && m.voidType < 0 {
			m.voidType = int64(k)
		}
		params, _ := readU32(b, i+1) // well formed: skipFuncType read it
		m.typeParams = append(m.typeParams, params)
		i = next
	}
	if i != len(b) {
		return malformed("type section: %d bytes after the last type", len(b)-i)
	}
	return nil
}

// scanFunctions reads the type of each defined function.
func (m *module) scanFunctions(s *section) error {
	b := m.in[:s.end]
	i := s.items
	m.funcTypes = make([]uint32, 0, s.count)
	for k := uint32(0); k < s.count; k++ {
		var t uint32
		if t, i = readU32(b, i); i < 0 {
			return malformed("function section: malformed type index of function %d", k)
		}
		if uint64(t) >= uint64(len(m.typeParams)) {
			return malformed("function section: type index %d of function %d out of range", t, k)
		}
		m.funcTypes = append(m.funcTypes, t)
	}
	if i != len(b) {
		return malformed("function section: %d bytes after the last type index", len(b)-i)
	}
	return nil
}

// scanTables checks the table limits and locates the maximum sizes to cap.
func (m *module) scanTables(s *section) error {
	if tables := uint64(m.importedTables) + uint64(s.count); tables > maxTables {
		return overLimit("%d tables exceed the limit of %d tables", tables, maxTables)
	}
	b := m.in[:s.end]
	i := s.items
	for k := uint32(0); k < s.count; k++ {
		index := m.importedTables + k
		l, at, next := readTableType(b, i)
		if next < 0 {
			return malformed("table %d: malformed type", index)
		}
		if l.min > MaxTableElements {
			return overLimit("table %d: minimum size of %d elements exceeds the limit of %d", index, l.min, MaxTableElements)
		}
		if l.flags&limitsHasMax == 0 || l.max > MaxTableElements {
			end := skipLimits(b, at)
			if m.tables == nil {
				m.tables = make([]cappedTable, 0, s.count)
			}
			m.tables = append(m.tables, cappedTable{at: at, end: end, limits: l})
		}
		i = next
	}
	if i != len(b) {
		return malformed("table section: %d bytes after the last table", len(b)-i)
	}
	return nil
}

// scanExports checks that no export has a name that Instrument adds.
func (m *module) scanExports(s *section) error {
	b := m.in[:s.end]
	i := s.items
	for k := uint32(0); k < s.count; k++ {
		n, next := readU32(b, i)
		if skipBytes(b, next, uint64(n)) < 0 {
			return malformed("export %d: malformed name", k)
		}
		switch name := string(b[next : next+int(n)]); name {
		case StopGlobal, BudgetGlobal, StartExport:
			return fmt.Errorf("instrumenting module: %w: %q", errReservedExport, name)
		}
		i = skipLEB(b, skipBytes(b, next+int(n), 1), maxLEB32) // kind, index
		if i < 0 {
			return malformed("export %d: malformed index", k)
		}
	}
	if i != len(b) {
		return malformed("export section: %d bytes after the last export", len(b)-i)
	}
	return nil
}

// scanNames locates the function names subsection of the name section b[i:],
// the index-th section, so that the rewrite can name $slow. It leaves
// m.names unset unless the subsections up to that one are well formed, and
// read the same when decoded by their sizes as by their contents as wazero
// does: a name section that Instrument does not understand is left as is.
func (m *module) scanNames(b []byte, i, index int) {
	for i < len(b) {
		id := b[i]
		size, content := readU32(b, i+1)
		end := skipBytes(b, content, uint64(size))
		if end < 0 {
			return
		}
		switch id {
		case nameSubsectionModule:
			if skipName(b[:end], content) != end {
				return
			}
		case nameSubsectionLocals:
			return // would come after the function names
		case nameSubsectionFunctions:
			count, next := readU32(b[:end], content)
			if next < 0 || uint64(count) > uint64(end-next)/2 {
				return // each name takes at least two bytes
			}
			names := nameSubsection{section: index, start: i, countEnd: next, end: end, count: count}
			for k := uint32(0); k < count && next >= 0; k++ {
				names.last, next = readU32(b[:end], next)
				next = skipName(b[:end], next)
			}
			if next == end {
				m.names = names
			}
			return
		}
		i = end
	}
}

// scanCode locates the function bodies and the checks to insert in them.
func (m *module) scanCode(s *section) error {
	b := m.in[:s.end]
	i := s.items
	// A body takes at least two bytes: its size and its local count.
	if uint64(s.count) > uint64(len(b)-i)/2 {
		return malformed("code section: %d function bodies cannot fit in %d bytes", s.count, len(b)-i)
	}
	m.bodies = make([]codeBody, 0, s.count)
	// Go modules have about one call per 16 bytes of code, each with two
	// insertions.
	m.inserts = make([]insertion, 0, 2*int(s.count)+(len(b)-i)/8)
	globals := m.globals()
	for k := uint32(0); k < s.count; k++ {
		funcIndex := uint64(m.importedFuncs) + uint64(k)
		size, content := readU32(b, i)
		if content < 0 {
			return malformed("function %d: malformed body size at offset %#x", funcIndex, i)
		}
		end := skipBytes(b, content, uint64(size))
		if end < 0 {
			return malformed("function %d: body size %d exceeds the code section", funcIndex, size)
		}
		before := len(m.inserts)
		body := codeBody{content: content, end: end}
		// wazero refuses a module whose bodies outnumber its functions,
		// whatever the index given their budget's local.
		var params uint64
		if k < uint32(len(m.funcTypes)) {
			params = uint64(m.typeParams[m.funcTypes[k]])
		}
		if err := m.scanBody(b[:end], &body, funcIndex, params, globals); err != nil {
			return err
		}
		body.inserts = len(m.inserts) - before
		m.bodies = append(m.bodies, body)
		i = end
	}
	if i != len(b) {
		return malformed("code section: %d bytes after the last function body", len(b)-i)
	}
	return nil
}

// scanBody decodes the function body b[body.content:], of a function with
// params parameters, appending its insertions to m.inserts and setting
// body's locals. globals is the number of globals of the module.
func (m *module) scanBody(b []byte, body *codeBody, funcIndex, params, globals uint64) error {
	locals, i := readU32(b, body.content)
	// A local declaration takes at least two bytes: its count and its type.
	if i < 0 || uint64(locals) > uint64(len(b)-i)/2 {
		return malformed("function %d: malformed local declarations", funcIndex)
	}
	body.groups, body.groupsEnd = locals, i
	var declared uint64
	for k := uint32(0); k < locals && i >= 0; k++ {
		var n uint32
		n, i = readU32(b, i)
		declared += uint64(n)
		i = skipValType(b, i)
	}
	if i < 0 {
		return malformed("function %d: malformed local declarations", funcIndex)
	}
	if declared > MaxLocals {
		return fmt.Errorf("instrumenting module: %w: function %d declares %d locals; at most %d are allowed", ErrLimit, funcIndex, declared, MaxLocals)
	}
	if params+declared >= math.MaxUint32 || locals == math.MaxUint32 {
		return malformed("function %d: %d parameters and %d locals leave no index for another local", funcIndex, params, declared)
	}
	body.local = uint32(params + declared)
	insert := func(at int, kind uint8) {
		m.inserts = append(m.inserts, insertion{at: uint32(at), kind: kind})
	}
	insert(i, insEntry)
	depth := 0 // open blocks, loops and ifs
	for i < len(b) {
		at, op := i, b[i]
		i++
		// The kinds most frequent in Go code are tested first, in order:
		// these branches are predicted better than a switch's jump table.
		imm := opcodeImmediates[op]
		if imm == immIndex || imm == immI32 {
			switch op {
			case opCall:
				insert(at, insCall)
				if i = skipLEB(b, i, maxLEB32); i >= 0 {
					insert(i, insReload)
				}
				continue
			case opLocalGet, opLocalSet, opLocalTee:
				// The budget's local must be out of the guest's reach, as
				// the added globals are.
				var local uint32
				if local, i = readU32(b, i); i >= 0 && local >= body.local {
					return malformed("function %d: local index %d out of range at offset %#x", funcIndex, local, at)
				}
			case opBr, opBrIf:
				// A branch to the function's own label returns.
				var label uint32
				if label, i = readU32(b, i); i >= 0 && uint64(label) == uint64(depth) {
					insert(at, insSpill)
				}
			default:
				i = skipLEB(b, i, maxLEB32)
			}
		} else if imm == immNone {
			if op == opReturn {
				insert(at, insSpill)
			}
			continue
		} else if imm == immMemarg {
			if i+1 < len(b) && b[i] < memargHasMemory && b[i+1] < 0x80 {
				i += 2 // one-byte alignment and offset
			} else {
				i = skipMemarg(b, i)
			}
		} else if imm == immGlobal {
			var global uint32
			if global, i = readU32(b, i); i >= 0 && uint64(global) >= globals {
				return malformed("function %d: global index %d out of range at offset %#x", funcIndex, global, at)
			}
		} else if imm == immI64 {
			i = skipLEB(b, i, maxLEB64)
		} else {
			switch imm {
			case immBlock, immLoop:
				if i = skipBlockType(b, i); i >= 0 {
					depth++
					if imm == immLoop {
						insert(i, insCheck)
					}
				}
			case immEnd:
				if depth == 0 {
					if i != len(b) {
						return malformed("function %d: %d bytes after the final end", funcIndex, len(b)-i)
					}
					insert(at, insSpill)
					return nil
				}
				depth--
			case immTwoIndices:
				if op == opCallIndirect {
					insert(at, insCall)
					if i = skipImmediates(b, i, imm); i >= 0 {
						insert(i, insReload)
					}
				} else {
					i = skipImmediates(b, i, imm)
				}
			case immBrTable:
				var toFunction bool
				if i, toFunction = skipBrTable(b, i, depth); toFunction {
					insert(at, insSpill)
				}
			case immPrefixFC:
				sub, next := readU32(b, i)
				switch {
				case next < 0:
					i = next
				case sub >= uint32(len(miscImmediates)):
					return malformed("function %d: unknown opcode %#x %#x at offset %#x", funcIndex, op, sub, at)
				default:
					i = skipImmediates(b, next, miscImmediates[sub])
				}
			case immPrefixFD:
				sub, next, agrees := readSIMDOpcode(b, i)
				switch {
				case next < 0:
					i = next
				case !agrees:
					return fmt.Errorf("instrumenting module: %w: function %d: opcode %#x %#x at offset %#x has an %w (as %#x %#x)",
						ErrMalformed, funcIndex, op, sub, at, errAmbiguousOpcode, op, b[i])
				case sub >= uint32(len(simdImmediates)) || simdImmediates[sub] == immUnknown:
					return malformed("function %d: unknown opcode %#x %#x at offset %#x", funcIndex, op, sub, at)
				default:
					i = skipImmediates(b, next, simdImmediates[sub])
				}
			case immUnknown:
				return malformed("function %d: unknown opcode %#x at offset %#x", funcIndex, op, at)
			default:
				i = skipImmediates(b, i, imm)
			}
		}
		if i < 0 {
			return malformed("function %d: malformed immediate of opcode %#x at offset %#x", funcIndex, op, at)
		}
	}
	return malformed("function %d: body lacks its final end", funcIndex)
}
