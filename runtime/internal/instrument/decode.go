package instrument

// This file decodes the pieces of the binary format that Instrument must step
// over: LEB128 numbers, value types and the instructions of function bodies.
//
// The helpers work on a slice that ends where the enclosing item (a section or
// a function body) ends, take the offset to read at and return the offset just
// past what they read, or a negative offset when the input is truncated or
// malformed. They never allocate.

// Maximum lengths of LEB128 encodings of the WebAssembly integer types.
const (
	maxLEB32 = 5  // u32, s32 and s33
	maxLEB64 = 10 // s64
)

// readU32 decodes the unsigned LEB128 u32 at b[i:].
func readU32(b []byte, i int) (uint32, int) {
	var v uint32
	for shift := 0; shift < 7*maxLEB32; shift += 7 {
		if uint(i) >= uint(len(b)) {
			break
		}
		c := b[i]
		i++
		// The fifth byte holds the top 4 bits and must end the number.
		if shift == 7*(maxLEB32-1) && c > 0x0f {
			break
		}
		v |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
	}
	return 0, -1
}

// readS32 decodes the signed LEB128 s32 at b[i:]. As the specification
// requires, and unlike readS33, it refuses a fifth byte whose unused bits do
// not extend the sign: wazero accepts every encoding that readS32 does, and
// reads the same value.
func readS32(b []byte, i int) (int32, int) {
	var v uint32
	for shift := 0; shift < 7*maxLEB32; shift += 7 {
		if uint(i) >= uint(len(b)) {
			break
		}
		c := b[i]
		i++
		if shift == 7*(maxLEB32-1) {
			// The fifth byte holds the top 4 bits, bit 3 being the sign.
			if signs := c & 0xf8; signs != 0 && signs != 0x78 {
				break
			}
			return int32(v | uint32(c)<<shift), i
		}
		v |= uint32(c&0x7f) << shift
		if c < 0x80 {
			if c&0x40 != 0 {
				v |= ^uint32(0) << (shift + 7)
			}
			return int32(v), i
		}
	}
	return 0, -1
}

// readS33 decodes the signed LEB128 s33 at b[i:], as block types use.
func readS33(b []byte, i int) (int64, int) {
	var v int64
	for shift := 0; shift < 7*maxLEB32; shift += 7 {
		if uint(i) >= uint(len(b)) {
			break
		}
		c := b[i]
		i++
		v |= int64(c&0x7f) << shift
		if c < 0x80 {
			if c&0x40 != 0 {
				v |= int64(-1) << (shift + 7)
			}
			return v, i
		}
	}
	return 0, -1
}

// skipLEB steps over a LEB128 number of at most maxLen bytes. It does not check
// the unused bits of the last byte: only where the number ends matters.
func skipLEB(b []byte, i, maxLen int) int {
	if i < 0 {
		return -1
	}
	for end := min(i+maxLen, len(b)); i < end; i++ {
		if b[i] < 0x80 {
			return i + 1
		}
	}
	return -1
}

// skipBytes steps over n bytes.
func skipBytes(b []byte, i int, n uint64) int {
	if i < 0 || i > len(b) || n > uint64(len(b)-i) {
		return -1
	}
	return i + int(n)
}

// skipName steps over a name: a u32 length and that many bytes.
func skipName(b []byte, i int) int {
	n, i := readU32(b, i)
	return skipBytes(b, i, uint64(n))
}

// Value type encodings.
const (
	valTypeI32       = 0x7f
	valTypeI64       = 0x7e
	valTypeF32       = 0x7d
	valTypeF64       = 0x7c
	valTypeV128      = 0x7b
	valTypeFuncref   = 0x70
	valTypeExternref = 0x6f
	valTypeExnref    = 0x69
	// refNullable and refNonNullable start the typed reference forms
	// (ref null ht) and (ref ht), followed by an s33 heap type.
	refNullable    = 0x63
	refNonNullable = 0x64
)

// skipValType steps over a value type. Besides the WebAssembly 2.0 types it
// accepts exnref and the typed reference forms, which wazero decodes whatever
// features are enabled: the instrumenter must accept every module wazero does.
func skipValType(b []byte, i int) int {
	if uint(i) >= uint(len(b)) {
		return -1
	}
	switch b[i] {
	case valTypeI32, valTypeI64, valTypeF32, valTypeF64, valTypeV128,
		valTypeFuncref, valTypeExternref, valTypeExnref:
		return i + 1
	case refNullable, refNonNullable:
		return skipLEB(b, i+1, maxLEB32)
	}
	return -1
}

// Limits flags.
const (
	limitsHasMax = 0x01
	limitsFlags  = 0x03 // has maximum, shared
)

// limits are the limits of a table or memory type.
type limits struct {
	flags    byte
	min, max uint32 // max is 0 unless flags has limitsHasMax
}

// readLimits decodes the limits of a table or memory type.
func readLimits(b []byte, i int) (limits, int) {
	if uint(i) >= uint(len(b)) || b[i]&^limitsFlags != 0 {
		return limits{}, -1
	}
	l := limits{flags: b[i]}
	l.min, i = readU32(b, i+1)
	if i >= 0 && l.flags&limitsHasMax != 0 {
		l.max, i = readU32(b, i)
	}
	return l, i
}

// skipLimits steps over the limits of a table or memory type.
func skipLimits(b []byte, i int) int {
	_, i = readLimits(b, i)
	return i
}

// tableWithInit starts a table type with an initializer expression: 0x40 0x00,
// the table type, the expression.
const tableWithInit = 0x40

// skipTableType steps over a table type, including the form with an
// initializer, which wazero decodes even in imports.
func skipTableType(b []byte, i int) int {
	_, _, i = readTableType(b, i)
	return i
}

// skipTableElemType steps over the element type of a table type. wazero
// reads any byte there, not only reference types, and checks only some
// (a defined table of i32 with an initializer compiles), so Instrument does
// likewise.
func skipTableElemType(b []byte, i int) int {
	if uint(i) >= uint(len(b)) {
		return -1
	}
	if b[i] == refNullable || b[i] == refNonNullable {
		return skipValType(b, i)
	}
	return i + 1
}

// readTableType decodes a table type and returns its limits with their offset.
func readTableType(b []byte, i int) (l limits, at, next int) {
	withInit := i >= 0 && i+1 < len(b) && b[i] == tableWithInit && b[i+1] == 0x00
	if withInit {
		i += 2
	}
	at = skipTableElemType(b, i)
	l, i = readLimits(b, at)
	if withInit {
		i = skipConstExpr(b, i)
	}
	return l, at, i
}

// skipConstExpr steps over a constant expression: instructions without
// blocks, ending with end.
func skipConstExpr(b []byte, i int) int {
	for i >= 0 && i < len(b) {
		switch imm := opcodeImmediates[b[i]]; imm {
		case immEnd:
			return i + 1
		case immBlock, immLoop, immUnknown, immPrefixFC:
			return -1
		case immPrefixFD:
			op, next, agrees := readSIMDOpcode(b, i+1)
			if next < 0 || !agrees || op >= uint32(len(simdImmediates)) {
				return -1
			}
			i = skipImmediates(b, next, simdImmediates[op])
		default:
			i = skipImmediates(b, i+1, imm)
		}
	}
	return -1
}

// funcTypeForm starts a function type.
const funcTypeForm = 0x60

// skipFuncType steps over a function type. void reports whether it is
// () -> ().
func skipFuncType(b []byte, i int) (next int, void bool) {
	if uint(i) >= uint(len(b)) || b[i] != funcTypeForm {
		return -1, false
	}
	params := skipValTypes(b, i+1)
	next = skipValTypes(b, params)
	return next, next == i+3 && params == i+2
}

// skipValTypes steps over a vector of value types.
func skipValTypes(b []byte, i int) int {
	n, i := readU32(b, i)
	if i < 0 || uint64(n) > uint64(len(b)-i) {
		return -1 // each type takes at least one byte
	}
	for k := uint32(0); k < n && i >= 0; k++ {
		i = skipValType(b, i)
	}
	return i
}

// skipBlockType steps over a block type: an s33 that is either a type index,
// 0x40 (no results) or a value type, whose typed reference forms wazero
// decodes too.
func skipBlockType(b []byte, i int) int {
	if uint(i) < uint(len(b)) && b[i] < 0x80 && b[i] != refNullable && b[i] != refNonNullable {
		return i + 1
	}
	v, i := readS33(b, i)
	if i < 0 {
		return -1
	}
	if v == refNullable-0x80 || v == refNonNullable-0x80 {
		return skipLEB(b, i, maxLEB32) // heap type
	}
	return i
}

// immediate tells what follows an opcode.
type immediate uint8

const (
	immUnknown     immediate = iota // not a WebAssembly 2.0 instruction
	immNone                         // nothing
	immBlock                        // a block type; opens a label (block, if)
	immLoop                         // a block type; opens a label (loop)
	immEnd                          // nothing; closes a label or the body (end)
	immIndex                        // one u32 index
	immTwoIndices                   // two u32 indices
	immBrTable                      // a vector of label indices and a default label
	immMemarg                       // align, optional memory index, offset
	immMemargLane                   // a memarg and a lane index byte
	immLane                         // a lane index byte
	immI32                          // an s32
	immI64                          // an s64
	immF32                          // 4 bytes
	immF64                          // 8 bytes
	immV128                         // 16 bytes (v128.const, i8x16.shuffle)
	immSelectTypes                  // a vector of value types (select t*)
	immGlobal                       // a u32 global index (global.get, global.set)
	immHeapType                     // an s33 heap type (ref.null)
	immPrefixFC                     // a u32 sub-opcode from miscImmediates
	immPrefixFD                     // a u32 sub-opcode from simdImmediates
)

// Opcodes the instrumenter reads or writes.
const (
	opUnreachable  = 0x00
	opLoop         = 0x03
	opIf           = 0x04
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opDrop         = 0x1a
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI32LeS       = 0x4c
	opI32Sub       = 0x6b
	opPrefixFC     = 0xfc
	opPrefixFD     = 0xfd
	blockTypeNone  = 0x40
)

// opcodeImmediates maps each single-byte opcode of WebAssembly 2.0 to its
// immediates.
var opcodeImmediates = func() (t [256]immediate) {
	set := func(first, last int, imm immediate) {
		for op := first; op <= last; op++ {
			t[op] = imm
		}
	}
	set(0x00, 0x01, immNone) // unreachable, nop
	t[0x02] = immBlock       // block
	t[opLoop] = immLoop
	t[opIf] = immBlock
	t[0x05] = immNone // else
	t[opEnd] = immEnd
	set(0x0c, 0x0d, immIndex) // br, br_if
	t[0x0e] = immBrTable
	t[0x0f] = immNone           // return
	t[0x10] = immIndex          // call
	t[0x11] = immTwoIndices     // call_indirect: type, table
	set(0x1a, 0x1b, immNone)    // drop, select
	t[0x1c] = immSelectTypes    // select t*
	set(0x20, 0x22, immIndex)   // local.get/set/tee
	set(0x23, 0x24, immGlobal)  // global.get/set
	set(0x25, 0x26, immIndex)   // table.get/set
	set(0x28, 0x3e, immMemarg)  // loads and stores
	set(0x3f, 0x40, immIndex)   // memory.size, memory.grow: memory index
	t[opI32Const] = immI32      // i32.const
	t[0x42] = immI64            // i64.const
	t[0x43] = immF32            // f32.const
	t[0x44] = immF64            // f64.const
	set(0x45, 0xc4, immNone)    // numeric, including sign extension (0xc0-0xc4)
	t[0xd0] = immHeapType       // ref.null
	t[0xd1] = immNone           // ref.is_null
	t[0xd2] = immIndex          // ref.func
	t[opPrefixFC] = immPrefixFC // saturating truncation, bulk memory and tables
	t[opPrefixFD] = immPrefixFD // SIMD
	return t
}()

// miscImmediates maps the sub-opcodes of the 0xfc prefix to their immediates.
var miscImmediates = [...]immediate{
	0x00: immNone, 0x01: immNone, 0x02: immNone, 0x03: immNone, // i32.trunc_sat_*
	0x04: immNone, 0x05: immNone, 0x06: immNone, 0x07: immNone, // i64.trunc_sat_*
	0x08: immTwoIndices, // memory.init: data, memory
	0x09: immIndex,      // data.drop
	0x0a: immTwoIndices, // memory.copy: memory, memory
	0x0b: immIndex,      // memory.fill: memory
	0x0c: immTwoIndices, // table.init: element, table
	0x0d: immIndex,      // elem.drop
	0x0e: immTwoIndices, // table.copy: table, table
	0x0f: immIndex,      // table.grow
	0x10: immIndex,      // table.size
	0x11: immIndex,      // table.fill
}

// simdImmediates maps the sub-opcodes of the 0xfd prefix to their immediates.
var simdImmediates = func() (t [256]immediate) {
	set := func(first, last int, imm immediate) {
		for op := first; op <= last; op++ {
			t[op] = imm
		}
	}
	set(0x00, 0x0b, immMemarg)     // v128.load*, v128.store
	set(0x0c, 0x0d, immV128)       // v128.const, i8x16.shuffle
	set(0x0e, 0x14, immNone)       // i8x16.swizzle, splats
	set(0x15, 0x22, immLane)       // extract_lane, replace_lane
	set(0x23, 0x53, immNone)       // comparisons, bitwise ops, v128.any_true
	set(0x54, 0x5b, immMemargLane) // v128.load*_lane, v128.store*_lane
	set(0x5c, 0x5d, immMemarg)     // v128.load32_zero, v128.load64_zero
	set(0x5e, 0xff, immNone)       // arithmetic and conversions
	// Opcodes left unassigned by the SIMD specification.
	for _, op := range []byte{
		0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee,
	} {
		t[op] = immUnknown
	}
	return t
}()

// skipImmediates steps over immediates of a kind that does not affect the
// structure of the body.
func skipImmediates(b []byte, i int, imm immediate) int {
	switch imm {
	case immNone:
		return i
	case immIndex, immGlobal, immI32, immHeapType:
		return skipLEB(b, i, maxLEB32)
	case immTwoIndices:
		return skipLEB(b, skipLEB(b, i, maxLEB32), maxLEB32)
	case immI64:
		return skipLEB(b, i, maxLEB64)
	case immF32:
		return skipBytes(b, i, 4)
	case immF64:
		return skipBytes(b, i, 8)
	case immV128:
		return skipBytes(b, i, 16)
	case immLane:
		return skipBytes(b, i, 1)
	case immMemarg:
		return skipMemarg(b, i)
	case immMemargLane:
		return skipBytes(b, skipMemarg(b, i), 1)
	case immBrTable:
		n, i := readU32(b, i)
		if i < 0 || uint64(n) >= uint64(len(b)-i) {
			return -1 // each label takes at least one byte
		}
		for k := uint64(0); k <= uint64(n) && i >= 0; k++ {
			i = skipLEB(b, i, maxLEB32)
		}
		return i
	case immSelectTypes:
		n, i := readU32(b, i)
		if i < 0 || uint64(n) > uint64(len(b)-i) {
			return -1
		}
		for k := uint32(0); k < n && i >= 0; k++ {
			i = skipValType(b, i)
		}
		return i
	}
	return -1
}

// skipBrTable steps over the labels of br_table, reporting whether one of
// them is depth: the label of the function, when depth blocks are open.
func skipBrTable(b []byte, i, depth int) (int, bool) {
	n, i := readU32(b, i)
	if i < 0 || uint64(n) >= uint64(len(b)-i) {
		return -1, false // each label takes at least one byte
	}
	found := false
	for k := uint64(0); k <= uint64(n) && i >= 0; k++ {
		var label uint32
		label, i = readU32(b, i)
		found = found || uint64(label) == uint64(depth)
	}
	return i, found
}

// memargHasMemory is the bit of a memarg's alignment field telling that a
// memory index follows it (multi-memory).
const memargHasMemory = 1 << 6

// skipMemarg steps over a memarg: alignment, memory index if bit 6 of the
// alignment is set, offset.
func skipMemarg(b []byte, i int) int {
	align, i := readU32(b, i)
	if i >= 0 && align&memargHasMemory != 0 {
		i = skipLEB(b, i, maxLEB32)
	}
	return skipLEB(b, i, maxLEB64)
}

// readSIMDOpcode reads the sub-opcode after a 0xfd prefix. The format encodes it
// as a u32 but wazero reads a single byte: agrees reports whether that byte is
// the sub-opcode and the next instruction starts at next, as when the encoding
// is minimal and the sub-opcode below 0x100 (the bytes 0x80-0xff followed by
// 0x01, which wazero reads as a nop). A loop hidden where the readings diverge
// would escape instrumentation.
func readSIMDOpcode(b []byte, i int) (op uint32, next int, agrees bool) {
	if uint(i) < uint(len(b)) && b[i] < 0x80 {
		return uint32(b[i]), i + 1, true
	}
	op, next = readU32(b, i)
	return op, next, next == i+2 && b[i+1] == 0x01
}
