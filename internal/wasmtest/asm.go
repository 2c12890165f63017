package wasmtest

import (
	"encoding/binary"
	"time"
)

// This file assembles small WebAssembly modules by hand: non-Go guests for
// tests and benchmarks (a minimal WASI command, tight loops, hostile shapes).

// Opcodes and types used below.
const (
	opUnreachable = 0x00
	opLoop        = 0x03
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalTee    = 0x22
	opI32Const    = 0x41
	opI32LtU      = 0x49
	opI32Add      = 0x6a
	typeI32       = 0x7f
	typeFunc      = 0x60
)

// Section ids.
const (
	secType   = 1
	secImport = 2
	secFunc   = 3
	secMemory = 5
	secExport = 7
	secStart  = 8
	secCode   = 10
	secData   = 11
)

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func vec(items ...[]byte) []byte {
	out := uleb(uint64(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func funcType(params, results []byte) []byte {
	t := []byte{typeFunc}
	t = append(t, uleb(uint64(len(params)))...)
	t = append(t, params...)
	t = append(t, uleb(uint64(len(results)))...)
	return append(t, results...)
}

func i32(v int32) []byte { return append([]byte{opI32Const}, sleb(int64(v))...) }

// body encodes a function body with n i32 locals.
func body(locals int, code ...[]byte) []byte {
	var b []byte
	if locals > 0 {
		b = vec(append(uleb(uint64(locals)), typeI32))
	} else {
		b = vec()
	}
	for _, c := range code {
		b = append(b, c...)
	}
	b = append(b, opEnd)
	return append(uleb(uint64(len(b))), b...)
}

func module(sections ...[]byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		m = append(m, s...)
	}
	return m
}

// exportFunc is an export entry for function index idx.
func exportFunc(n string, idx uint32) []byte {
	return append(append(name(n), 0x00), uleb(uint64(idx))...)
}

// exportMemory is an export entry for memory 0.
func exportMemory() []byte { return append(name("memory"), 0x02, 0x00) }

// memory is a memory section entry with min pages and no maximum.
func memory(minPages uint32) []byte { return append([]byte{0x00}, uleb(uint64(minPages))...) }

// Hello is a minimal non-Go WASI command: it writes "hello\n" to stdout
// with fd_write and returns.
func Hello() []byte {
	const msg = "hello\n"
	fdWrite := append(append(name("wasi_snapshot_preview1"), name("fd_write")...), 0x00, 0x00)
	data := append([]byte{0x00}, i32(16)...)
	data = append(data, opEnd)
	data = append(data, name(msg)...)
	iov := append([]byte{0x00}, i32(0)...)
	iov = append(iov, opEnd)
	iov = append(iov, name(string([]byte{16, 0, 0, 0, byte(len(msg)), 0, 0, 0}))...)
	return module(
		section(secType, vec(
			funcType([]byte{typeI32, typeI32, typeI32, typeI32}, []byte{typeI32}),
			funcType(nil, nil),
		)),
		section(secImport, vec(fdWrite)),
		section(secFunc, vec(uleb(1))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 1))),
		section(secCode, vec(body(0,
			i32(1), i32(0), i32(1), i32(8),
			[]byte{opCall, 0, opDrop},
		))),
		section(secData, vec(data, iov)),
	)
}

// Loop is a WASI command whose _start counts to n in a tight loop.
func Loop(n int32) []byte {
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 0))),
		section(secCode, vec(body(1,
			[]byte{opLoop, 0x40},
			[]byte{opLocalGet, 0}, i32(1), []byte{opI32Add, opLocalTee, 0},
			i32(n), []byte{opI32LtU, opBrIf, 0},
			[]byte{opEnd},
		))),
	)
}

// Spin is a WASI command whose _start loops forever.
func Spin() []byte {
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 0))),
		section(secCode, vec(body(0, []byte{opLoop, 0x40, opBr, 0, opEnd}))),
	)
}

// SpinInStart is a module whose start function (run while it is being
// instantiated, before _start) loops forever.
func SpinInStart() []byte {
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0), uleb(0))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 1))),
		section(secStart, uleb(0)),
		section(secCode, vec(
			body(0, []byte{opLoop, 0x40, opBr, 0, opEnd}),
			body(0),
		)),
	)
}

// Importing is a WASI command that imports module.name as a () -> ()
// function (and never calls it).
func Importing(module_, fn string) []byte {
	imp := append(append(name(module_), name(fn)...), 0x00, 0x00)
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secImport, vec(imp)),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 1))),
		section(secCode, vec(body(0))),
	)
}

// BigMemory is a WASI command that declares minPages of memory at start.
func BigMemory(minPages uint32) []byte {
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(minPages))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 0))),
		section(secCode, vec(body(0))),
	)
}

// NoStart is a module with a memory and no _start.
func NoStart() []byte {
	return module(
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory())),
	)
}

// Unreachable is a WASI command whose _start traps at once.
func Unreachable() []byte {
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 0))),
		section(secCode, vec(body(0, []byte{opUnreachable}))),
	)
}

// ManyLocals is a WASI command whose _start declares n i32 locals in one
// run-length group: a few bytes that declare up to four billion locals.
func ManyLocals(n uint32) []byte {
	b := vec(append(uleb(uint64(n)), typeI32))
	b = append(b, opEnd)
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 0))),
		section(secCode, vec(append(uleb(uint64(len(b))), b...))),
	)
}

// Sleep is a WASI command whose _start sleeps for d, with one poll_oneoff
// on a relative monotonic clock, and returns: a run that lasts without
// using the CPU.
func Sleep(d time.Duration) []byte {
	// The subscription poll_oneoff reads, at address 0: userdata (u64),
	// the tag (u8, 0 = clock) at 8, then the clock id (u32, 1 = monotonic)
	// at 16, the timeout (u64) at 24, the precision (u64) at 32 and the
	// flags (u16, 0 = relative) at 40. Its event is written at 64.
	sub := make([]byte, 48)
	binary.LittleEndian.PutUint32(sub[16:], 1)
	binary.LittleEndian.PutUint64(sub[24:], uint64(d))
	pollOneoff := append(append(name("wasi_snapshot_preview1"), name("poll_oneoff")...), 0x00, 0x00)
	data := append([]byte{0x00}, i32(0)...)
	data = append(data, opEnd)
	data = append(data, name(string(sub))...)
	return module(
		section(secType, vec(
			funcType([]byte{typeI32, typeI32, typeI32, typeI32}, []byte{typeI32}),
			funcType(nil, nil),
		)),
		section(secImport, vec(pollOneoff)),
		section(secFunc, vec(uleb(1))),
		section(secMemory, vec(memory(1))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 1))),
		section(secCode, vec(body(0,
			i32(0), i32(64), i32(1), i32(128),
			[]byte{opCall, 0, opDrop},
		))),
		section(secData, vec(data)),
	)
}

// Segment is an active data segment at a constant offset.
type Segment struct {
	Offset uint32
	Bytes  []byte
}

// MemoryHash is the hash that MemoryCheck's guest computes of a memory's
// contents, whose length is a multiple of 8.
func MemoryHash(mem []byte) uint64 {
	var h uint64
	for i := 0; i+8 <= len(mem); i += 8 {
		h = (h ^ binary.LittleEndian.Uint64(mem[i:])) * memoryHashPrime
	}
	return h
}

const memoryHashPrime = 0x100000001b3

// MemoryCheck is a WASI command with a memory of pages pages and the data
// segments segs. Its _start traps (unreachable) unless the memory it starts
// with is exactly the segments on zeros; then it overwrites all of it with
// 0xa5 bytes. If grow is set, it then grows the memory by one page, traps
// unless the new page is zeros, and overwrites that as well. Every run of
// it in a fresh instance must succeed, however many ran before.
func MemoryCheck(pages uint32, grow bool, segs ...Segment) []byte {
	const (
		opIf        = 0x04
		opLocalSet  = 0x21
		opI64Load   = 0x29
		opI64Const  = 0x42
		opI32Ne     = 0x47
		opI64Ne     = 0x52
		opI64Mul    = 0x7e
		opI64Xor    = 0x85
		opMemGrow   = 0x40
		prefixFC    = 0xfc
		opMemFill   = 0x0b
		typeI64     = 0x7e
		localAddr   = 0
		localHash   = 1
		pageBytes   = 1 << 16
		blockTypeNo = 0x40
	)
	i64 := func(v uint64) []byte { return append([]byte{opI64Const}, sleb(int64(v))...) }
	// check traps unless the hash of memory from start to end is want.
	check := func(start, end uint32, want uint64) []byte {
		var b []byte
		b = append(append(b, i64(0)...), opLocalSet, localHash)
		b = append(append(b, i32(int32(start))...), opLocalSet, localAddr)
		b = append(b, opLoop, blockTypeNo,
			opLocalGet, localHash, opLocalGet, localAddr, opI64Load, 3, 0, opI64Xor)
		b = append(append(b, i64(memoryHashPrime)...), opI64Mul, opLocalSet, localHash, opLocalGet, localAddr)
		b = append(append(b, i32(8)...), opI32Add, opLocalTee, localAddr)
		b = append(append(b, i32(int32(end))...), opI32LtU, opBrIf, 0, opEnd)
		b = append(append(b, opLocalGet, localHash), i64(want)...)
		return append(b, opI64Ne, opIf, blockTypeNo, opUnreachable, opEnd)
	}
	fill := func(start, end uint32) []byte {
		b := append(i32(int32(start)), i32(0xa5)...)
		b = append(b, i32(int32(end-start))...)
		return append(b, prefixFC, opMemFill, 0)
	}
	mem := make([]byte, pages*pageBytes)
	for _, s := range segs {
		copy(mem[s.Offset:], s.Bytes)
	}
	size := pages * pageBytes
	code := append(check(0, size, MemoryHash(mem)), fill(0, size)...)
	if grow {
		code = append(code, i32(1)...)
		code = append(code, opMemGrow, 0)
		code = append(code, i32(int32(pages))...)
		code = append(code, opI32Ne, opIf, blockTypeNo, opUnreachable, opEnd)
		code = append(code, check(size, size+pageBytes, MemoryHash(make([]byte, pageBytes)))...)
		code = append(code, fill(size, size+pageBytes)...)
	}
	code = append(code, opEnd)
	fn := append(vec(append(uleb(1), typeI32), append(uleb(1), typeI64)), code...)
	var data [][]byte
	for _, s := range segs {
		d := append(append([]byte{0x00}, i32(int32(s.Offset))...), opEnd)
		data = append(data, append(d, name(string(s.Bytes))...))
	}
	return module(
		section(secType, vec(funcType(nil, nil))),
		section(secFunc, vec(uleb(0))),
		section(secMemory, vec(memory(pages))),
		section(secExport, vec(exportMemory(), exportFunc("_start", 0))),
		section(secCode, vec(append(uleb(uint64(len(fn))), fn...))),
		section(secData, vec(data...)),
	)
}
