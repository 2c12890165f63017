package wasmtest

import (
	"fmt"
	"strconv"
	"strings"
)

// A Program is a WASI command described once and rendered two ways: as a
// module (Wasm) and as its WebAssembly text (WAT), so that a document can
// show the text of a module a test runs, and a test can require the two to
// agree. It has i32-only function imports, one memory exported as
// "memory", data segments at constant offsets, and one exported _start
// function of flat instructions.
type Program struct {
	Imports []Import
	Pages   uint32 // memory size in 64 KiB pages
	Data    []Data
	Start   []Instr // the body of _start
}

// Import is a function import whose parameters and result are i32.
type Import struct {
	Module, Name string
	Params       int
	Result       bool
}

// id is the name of the import in the text, e.g. $log.
func (i Import) id() string { return "$" + i.Name }

// Data is an active data segment.
type Data struct {
	Offset int32
	Bytes  string
}

// Instr is one instruction: an opcode Op and its immediate, if it takes
// one (Call names an import by Name; I32 is i32.const's operand).
type Instr struct {
	Op      string
	I32     int32
	Call    string
	Comment string // a line of comment shown above it in the text
}

// instruction encodings of the instructions a Program may use.
var opcodes = map[string]byte{
	"unreachable": opUnreachable, "if": 0x04, "end": opEnd, "call": opCall,
	"drop": opDrop, "i32.const": opI32Const, "i32.load": 0x28, "i32.eqz": 0x45,
}

// Wasm assembles p.
func (p Program) Wasm() ([]byte, error) {
	var types [][]byte
	var imports [][]byte
	index := map[string]int{}
	for i, im := range p.Imports {
		params := make([]byte, im.Params)
		for j := range params {
			params[j] = typeI32
		}
		var results []byte
		if im.Result {
			results = []byte{typeI32}
		}
		types = append(types, funcType(params, results))
		imports = append(imports, append(append(name(im.Module), name(im.Name)...), 0x00, byte(i)))
		index[im.Name] = i
	}
	types = append(types, funcType(nil, nil))
	var code []byte
	for _, in := range p.Start {
		op, ok := opcodes[in.Op]
		if !ok {
			return nil, fmt.Errorf("wasmtest: instruction %q is not supported", in.Op)
		}
		code = append(code, op)
		switch in.Op {
		case "i32.const":
			code = append(code, sleb(int64(in.I32))...)
		case "call":
			i, ok := index[in.Call]
			if !ok {
				return nil, fmt.Errorf("wasmtest: call of %q, which is not imported", in.Call)
			}
			code = append(code, uleb(uint64(i))...)
		case "if":
			code = append(code, 0x40)
		case "i32.load":
			code = append(code, 2, 0) // align 4, offset 0
		}
	}
	var data [][]byte
	for _, d := range p.Data {
		seg := append([]byte{0x00}, i32(d.Offset)...)
		seg = append(seg, opEnd)
		data = append(data, append(seg, name(d.Bytes)...))
	}
	start := uint32(len(p.Imports))
	return module(
		section(secType, vec(types...)),
		section(secImport, vec(imports...)),
		section(secFunc, vec(uleb(uint64(len(types)-1)))),
		section(secMemory, vec(memory(p.Pages))),
		section(secExport, vec(exportMemory(), exportFunc("_start", start))),
		section(secCode, vec(body(0, code))),
		section(secData, vec(data...)),
	), nil
}

// WAT renders p as WebAssembly text, one instruction a line.
func (p Program) WAT() string {
	var b strings.Builder
	b.WriteString("(module\n")
	for _, im := range p.Imports {
		fmt.Fprintf(&b, "  (import %q %q (func %s", im.Module, im.Name, im.id())
		if im.Params > 0 {
			b.WriteString(" (param" + strings.Repeat(" i32", im.Params) + ")")
		}
		if im.Result {
			b.WriteString(" (result i32)")
		}
		b.WriteString("))\n")
	}
	fmt.Fprintf(&b, "  (memory (export \"memory\") %d)\n", p.Pages)
	for _, d := range p.Data {
		fmt.Fprintf(&b, "  (data (i32.const %d) %s)\n", d.Offset, watString(d.Bytes))
	}
	b.WriteString("  (func (export \"_start\")\n")
	depth := 2
	for _, in := range p.Start {
		if in.Op == "end" {
			depth--
		}
		pad := strings.Repeat("  ", depth)
		if in.Comment != "" {
			fmt.Fprintf(&b, "%s;; %s\n", pad, in.Comment)
		}
		b.WriteString(pad + in.Op)
		switch in.Op {
		case "i32.const":
			b.WriteString(" " + strconv.Itoa(int(in.I32)))
		case "call":
			b.WriteString(" $" + in.Call)
		}
		b.WriteString("\n")
		if in.Op == "if" {
			depth++
		}
	}
	b.WriteString("  )\n)\n")
	return b.String()
}

// watString quotes s as a WebAssembly text string: printable ASCII but for
// '"' and '\\' as is, everything else as \hh.
func watString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
