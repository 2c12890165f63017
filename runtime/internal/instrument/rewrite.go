package instrument

// This file writes the instrumented module from what module.scan learnt. The
// output size is computed first, so that the output is allocated once.

import (
	"errors"
	"fmt"
	"math"
)

// slowName is the debug name given to $slow, which shows in stack traces of
// stopped guests.
const slowName = "cronbox.slow"

// Maximum lengths of the pieces that Instrument writes, with 5-byte indices.
const (
	// maxCheckLen is the length of the check: local.get, i32.const 0,
	// i32.le_s, if, call, global.get, local.set, end, local.get,
	// i32.const 1, i32.sub, local.set.
	maxCheckLen = (1 + maxLEB32) + 2 + 1 + 2 + (1 + maxLEB32) + 2*(1+maxLEB32) + 1 + (1 + maxLEB32) + 2 + 1 + (1 + maxLEB32)
	// maxSlowLen is the length of $slow with its body size and local
	// count: i32.const 0, memory.grow 0, drop, global.get, if,
	// unreachable, end, i32.const, global.set, end.
	maxSlowLen = 1 + 1 + 2 + 2 + 1 + (1 + maxLEB32) + 2 + 1 + 1 + (1 + maxLEB32) + (1 + maxLEB32) + 1
	// maxGlobalsLen is the length of $stop and $budget.
	maxGlobalsLen = 5 + 3 + maxLEB32 + 1
	// maxExportsLen is the length of the three exports: name length, name,
	// kind, index.
	maxExportsLen = 3*(1+1+maxLEB32) + len(StopGlobal) + len(BudgetGlobal) + len(StartExport)
	// maxAppendedLen is the length of everything appended to sections but
	// the name of $slow: a type, a function, a memory, the globals, the
	// exports and $slow.
	maxAppendedLen = 3 + maxLEB32 + 3 + maxGlobalsLen + maxExportsLen + maxSlowLen
)

// appended holds the items that the rewrite appends to a vector section.
type appended struct {
	items []byte
	count uint32
}

// plan tells how the rewrite outputs a section of the input.
type plan uint8

const (
	planCopy      plan = iota // as is
	planDrop                  // not at all
	planVector                // with items appended
	planCode                  // with checks inserted and $slow appended
	planTables                // with table maximums capped
	planNames                 // with the name of $slow appended
	planDataCount             // a truncated data count section, as a count of 0
	planData                  // with data segments merged
)

// rewriter holds the pieces of the output.
type rewriter struct {
	*module
	// appended holds, by section id, the items appended to the section.
	appended [sectionDataCount + 1]appended
	// budget and slow are the indices of $budget and $slow.
	budget, slow uint32
	// nameEntry is the entry appended to the function names, or nil.
	nameEntry []byte
	codeSize  uint64 // content size of the output code section
}

// createdSections lists the ids of the sections that the rewrite may create,
// in section order.
var createdSections = [...]byte{sectionType, sectionFunction, sectionMemory, sectionGlobal, sectionExport, sectionCode}

// rewrite builds the instrumented module; $slow refills the budget to
// yieldInterval.
func (m *module) rewrite(yieldInterval int32) ([]byte, error) {
	slow := uint64(m.importedFuncs) + uint64(m.count(sectionFunction))
	if slow >= math.MaxUint32 {
		return nil, malformed("%d imported and %d defined functions leave no index for another", m.importedFuncs, m.count(sectionFunction))
	}
	stop := m.globals()
	if stop+1 >= math.MaxUint32 {
		return nil, malformed("%d imported and %d defined globals leave no index for two more", m.importedGlobals, m.count(sectionGlobal))
	}
	budget := stop + 1

	// All the appended pieces but the name fit in one small buffer.
	r := rewriter{module: m}
	buf := make([]byte, 0, maxAppendedLen)
	add := func(id byte, count uint32, build func([]byte) []byte) {
		start := len(buf)
		buf = build(buf)
		r.appended[id] = appended{items: buf[start:len(buf):len(buf)], count: count}
	}
	var typeIndex uint32
	if m.voidType >= 0 {
		typeIndex = uint32(m.voidType)
	} else {
		typeIndex = m.count(sectionType) // below 2^32-1: a type takes three bytes
		add(sectionType, 1, func(b []byte) []byte { return append(b, funcTypeForm, 0, 0) })
	}
	add(sectionFunction, 1, func(b []byte) []byte { return appendU32(b, typeIndex) })
	if m.importedMemories+m.count(sectionMemory) == 0 {
		add(sectionMemory, 1, func(b []byte) []byte { return append(b, limitsHasMax, 0, 0) })
	}
	add(sectionGlobal, 2, func(b []byte) []byte {
		b = append(b, valTypeI32, globalMutable, opI32Const, 0, opEnd)
		b = appendS32(append(b, valTypeI32, globalMutable, opI32Const), yieldInterval)
		return append(b, opEnd)
	})
	hasStart := m.index[sectionStart] >= 0
	exports := uint32(2)
	if hasStart {
		exports++
	}
	add(sectionExport, exports, func(b []byte) []byte {
		b = appendExport(b, StopGlobal, exportKindGlobal, uint32(stop))
		b = appendExport(b, BudgetGlobal, exportKindGlobal, uint32(budget))
		if hasStart {
			b = appendExport(b, StartExport, exportKindFunc, m.start)
		}
		return b
	})
	add(sectionCode, 1, func(b []byte) []byte { return appendSlow(b, uint32(stop), uint32(budget), yieldInterval) })
	r.budget, r.slow = uint32(budget), uint32(slow)
	if m.names.section >= 0 && (m.names.count == 0 || m.names.last < uint32(slow)) {
		r.nameEntry = append(appendU32(appendU32(nil, uint32(slow)), uint32(len(slowName))), slowName...)
	}
	return r.write()
}

// write computes the size of the output, then writes it.
func (r *rewriter) write() ([]byte, error) {
	if k := r.index[sectionCode]; k >= 0 {
		var err error
		if r.codeSize, err = r.newCodeSize(); err != nil {
			return nil, err
		}
	}
	size := uint64(len(r.in))
	for k, s := range r.sections {
		p := r.plan(k)
		if p == planCopy {
			continue
		}
		size -= uint64(s.end - s.start)
		if p != planDrop {
			n := r.contentSize(k, p)
			if n > math.MaxUint32 {
				return nil, fmt.Errorf("instrumenting module: instrumented %s section exceeds 4 GiB", sectionNames[s.id])
			}
			size += sectionSize(n)
		}
	}
	var insertAt [len(createdSections)]int
	for j, id := range createdSections {
		insertAt[j] = -1
		if r.index[id] < 0 && r.appended[id].count > 0 {
			insertAt[j] = r.insertionPoint(id)
			size += sectionSize(vectorSize(0, nil, r.appended[id]))
		}
	}

	out := append(make([]byte, 0, size), r.in[:8]...)
	for k := 0; k <= len(r.sections); k++ {
		for j, id := range createdSections {
			if insertAt[j] == k {
				out = appendVectorSection(out, id, 0, nil, r.appended[id])
			}
		}
		if k == len(r.sections) {
			break
		}
		s := r.sections[k]
		switch p := r.plan(k); p {
		case planCopy:
			out = append(out, r.in[s.start:s.end]...)
		case planVector:
			out = appendVectorSection(out, s.id, s.count, r.in[s.items:s.end], r.appended[s.id])
		case planCode:
			out = r.appendCode(out)
		case planTables:
			out = r.appendTables(out)
		case planNames:
			out = r.appendNames(out, k)
		case planDataCount:
			out = append(out, sectionDataCount, 1, 0)
		case planData:
			out = r.appendData(out)
		}
	}
	return out, nil
}

// plan returns how the k-th section of the input is output.
func (r *rewriter) plan(k int) plan {
	s := r.sections[k]
	switch {
	case s.drop:
		return planDrop
	case s.id == sectionCustom:
		if k == r.names.section && r.nameEntry != nil {
			return planNames
		}
		return planCopy
	case s.id == sectionCode:
		return planCode
	case s.id == sectionTable && len(r.tables) > 0:
		return planTables
	case s.truncatedDataCount:
		return planDataCount
	case s.id == sectionData && len(r.data.runs) > 0:
		return planData
	case r.appended[s.id].count > 0:
		return planVector
	}
	return planCopy
}

// contentSize returns the content size of the k-th section of the input once
// output as p says.
func (r *rewriter) contentSize(k int, p plan) uint64 {
	s := r.sections[k]
	switch p {
	case planVector:
		return vectorSize(s.count, r.in[s.items:s.end], r.appended[s.id])
	case planCode:
		return r.codeSize
	case planTables:
		size := uint64(s.end - s.content)
		for _, t := range r.tables {
			size = size - uint64(t.end-t.at) + uint64(cappedLimitsSize(t.limits))
		}
		return size
	case planNames:
		n := r.names
		return uint64(s.end-s.content) - uint64(n.end-n.start) + sectionSize(r.nameSubsectionSize())
	case planDataCount:
		return 1
	case planData:
		return r.dataSize()
	}
	return uint64(s.end - s.content)
}

// insertionPoint returns the index in r.sections before which a created
// section with the given id goes: just after the last section that must
// precede it.
func (r *rewriter) insertionPoint(id byte) int {
	at := 0
	for k, s := range r.sections {
		if s.id != sectionCustom && sectionOrder[s.id] < sectionOrder[id] {
			at = k + 1
		}
	}
	return at
}

// newCodeSize returns the content size of the instrumented code section.
func (r *rewriter) newCodeSize() (uint64, error) {
	s := r.sections[r.index[sectionCode]]
	slow := r.appended[sectionCode]
	size := uint64(lebSize(uint64(s.count)+1) + len(slow.items))
	inserts := r.inserts
	for k, body := range r.bodies {
		n := r.newBodySize(body, inserts[:body.inserts])
		inserts = inserts[body.inserts:]
		if n > math.MaxUint32 {
			return 0, fmt.Errorf("instrumenting module: function %d: instrumented body exceeds 4 GiB", uint64(r.importedFuncs)+uint64(k))
		}
		size += uint64(lebSize(n)) + n
	}
	if size > math.MaxUint32 {
		return 0, errors.New("instrumenting module: instrumented code section exceeds 4 GiB")
	}
	return size, nil
}

// appendCode appends the instrumented code section: the bodies with their
// checks, then $slow.
func (r *rewriter) appendCode(out []byte) []byte {
	s := r.sections[r.index[sectionCode]]
	out = appendU32(append(out, sectionCode), uint32(r.codeSize))
	out = appendU32(out, s.count+1)
	inserts := r.inserts
	for _, body := range r.bodies {
		ins := inserts[:body.inserts]
		inserts = inserts[body.inserts:]
		out = appendU32(out, uint32(r.newBodySize(body, ins)))
		// The local declarations, with the budget's local last: the
		// entry, the first insertion, follows them.
		out = appendU32(out, body.groups+1)
		at := int(ins[0].at)
		out = append(append(out, r.in[body.groupsEnd:at]...), 1, valTypeI32)
		for _, in := range ins {
			out = append(out, r.in[at:in.at]...)
			out = r.appendInsertion(out, in.kind, body.local)
			at = int(in.at)
		}
		out = append(out, r.in[at:body.end]...)
	}
	return append(out, r.appended[sectionCode].items...)
}

// newBodySize returns the size of body once instrumented with its
// insertions ins.
func (r *rewriter) newBodySize(body codeBody, ins []insertion) uint64 {
	var sizes [insReload + 1]uint64
	for kind := range sizes {
		sizes[kind] = uint64(insertionSize(uint8(kind), r.budget, r.slow, body.local))
	}
	n := uint64(lebSize(uint64(body.groups)+1)) + 2 + uint64(body.end-body.groupsEnd)
	for _, in := range ins {
		n += sizes[in.kind]
	}
	return n
}

// insertionSize returns the length of the code of kind for a function whose
// budget's local is local.
func insertionSize(kind uint8, budget, slow, local uint32) int {
	b, l := 1+lebSize(uint64(budget)), 1+lebSize(uint64(local))
	switch kind {
	case insSpill, insCall, insReload:
		return b + l
	case insCheck:
		return checkSize(b, l, slow)
	}
	return b + l + checkSize(b, l, slow) // insEntry
}

// checkSize returns the length of the check for the lengths b and l of a
// global.get of $budget and a local.get of its local.
func checkSize(b, l int, slow uint32) int {
	return l + 2 + 1 + 2 + (1 + lebSize(uint64(slow))) + b + l + 1 + l + 2 + 1 + l
}

// appendInsertion appends the code of kind for a function whose budget's
// local is local.
func (r *rewriter) appendInsertion(out []byte, kind uint8, local uint32) []byte {
	switch kind {
	case insSpill, insCall:
		return appendU32(append(appendU32(append(out, opLocalGet), local), opGlobalSet), r.budget)
	case insReload:
		return appendReload(out, r.budget, local)
	case insCheck:
		return appendCheck(out, r.budget, r.slow, local)
	}
	return appendCheck(appendReload(out, r.budget, local), r.budget, r.slow, local) // insEntry
}

// appendReload appends the load of the budget into its local.
func appendReload(out []byte, budget, local uint32) []byte {
	return appendU32(append(appendU32(append(out, opGlobalGet), budget), opLocalSet), local)
}

// cappedLimitsSize returns the size of limits l with their maximum set to
// MaxTableElements.
func cappedLimitsSize(l limits) int {
	return 1 + lebSize(uint64(l.min)) + lebSize(MaxTableElements)
}

// appendTables appends the table section with the maximums capped.
func (r *rewriter) appendTables(out []byte) []byte {
	k := r.index[sectionTable]
	s := r.sections[k]
	out = appendU32(append(out, sectionTable), uint32(r.contentSize(k, planTables)))
	at := s.content
	for _, t := range r.tables {
		out = append(append(out, r.in[at:t.at]...), t.limits.flags|limitsHasMax)
		out = appendU32(appendU32(out, t.limits.min), MaxTableElements)
		at = t.end
	}
	return append(out, r.in[at:s.end]...)
}

// nameSubsectionSize returns the content size of the function names
// subsection with the name of $slow.
func (r *rewriter) nameSubsectionSize() uint64 {
	n := r.names
	return uint64(lebSize(uint64(n.count)+1)) + uint64(n.end-n.countEnd) + uint64(len(r.nameEntry))
}

// appendNames appends the name section, the k-th, with the name of $slow.
func (r *rewriter) appendNames(out []byte, k int) []byte {
	s, n := r.sections[k], r.names
	out = appendU32(append(out, sectionCustom), uint32(r.contentSize(k, planNames)))
	out = append(out, r.in[s.content:n.start]...)
	out = appendU32(append(out, nameSubsectionFunctions), uint32(r.nameSubsectionSize()))
	out = append(appendU32(out, n.count+1), r.in[n.countEnd:n.end]...)
	out = append(out, r.nameEntry...)
	return append(out, r.in[n.end:s.end]...)
}

// appendSlow appends the body of $slow, with its size.
func appendSlow(out []byte, stop, budget uint32, yieldInterval int32) []byte {
	sizeAt := len(out)
	out = append(out, 0, 0) // size, set below; no locals
	out = appendU32(append(out, opI32Const, 0, opMemoryGrow, 0, opDrop, opGlobalGet), stop)
	out = appendS32(append(out, opIf, blockTypeNone, opUnreachable, opEnd, opI32Const), yieldInterval)
	out = append(appendU32(append(out, opGlobalSet), budget), opEnd)
	out[sizeAt] = byte(len(out) - sizeAt - 1) // below maxSlowLen, a one-byte size
	return out
}

// appendCheck appends the check inserted at function entries and loop
// heads, counting down the budget held in local.
func appendCheck(out []byte, budget, slow, local uint32) []byte {
	out = appendU32(append(out, opLocalGet), local)
	out = appendU32(append(out, opI32Const, 0, opI32LeS, opIf, blockTypeNone, opCall), slow)
	out = appendReload(out, budget, local)
	out = appendU32(append(out, opEnd, opLocalGet), local)
	return appendU32(append(out, opI32Const, 1, opI32Sub, opLocalSet), local)
}

// appendExport appends an export.
func appendExport(out []byte, name string, kind byte, index uint32) []byte {
	out = append(appendU32(out, uint32(len(name))), name...)
	return appendU32(append(out, kind), index)
}

// vectorSize returns the content size of a vector section holding count
// items, then the appended ones.
func vectorSize(count uint32, items []byte, a appended) uint64 {
	return uint64(lebSize(uint64(count)+uint64(a.count)) + len(items) + len(a.items))
}

// appendVectorSection appends a vector section holding count items, then the
// appended ones.
func appendVectorSection(out []byte, id byte, count uint32, items []byte, a appended) []byte {
	out = appendU32(append(out, id), uint32(vectorSize(count, items, a)))
	out = appendU32(out, count+a.count)
	return append(append(out, items...), a.items...)
}

// sectionSize returns the size of a section whose content is contentSize
// bytes.
func sectionSize(contentSize uint64) uint64 {
	return 1 + uint64(lebSize(contentSize)) + contentSize
}

// lebSize returns the length of the minimal LEB128 encoding of v.
func lebSize(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// s32Size returns the length of the minimal signed LEB128 encoding of v.
func s32Size(v int32) int {
	n := 1
	for ; v < -0x40 || v >= 0x40; v >>= 7 {
		n++
	}
	return n
}

// appendU32 appends the minimal unsigned LEB128 encoding of v.
func appendU32(out []byte, v uint32) []byte {
	for ; v >= 0x80; v >>= 7 {
		out = append(out, byte(v)|0x80)
	}
	return append(out, byte(v))
}

// appendS32 appends the minimal signed LEB128 encoding of v.
func appendS32(out []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}
