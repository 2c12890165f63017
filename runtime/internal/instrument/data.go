package instrument

// This file merges the data segments of a module, as the package
// documentation describes: module.scanData decides which to merge, and
// rewriter.appendData writes the merged data section.
//
// scanData never fails: it leaves a data section that it does not
// understand, or whose segments it would read otherwise than wazero, as it
// is, for wazero to judge.

import (
	"math"
	"slices"
)

// Encodings of data segments.
const (
	dataActive       = 0x00 // an offset expression for memory 0, the bytes
	dataPassive      = 0x01 // the bytes
	dataActiveMemory = 0x02 // a memory index, an offset expression, the bytes
)

// extraDataZeros is how many more zeros than the bytes of its data section
// the merging may add to a module.
const extraDataZeros = 1 << 16

// maxWrittenSpans is the number of address ranges that writtenSpans keeps
// before it merges the closest two.
const maxWrittenSpans = 16

// segmentKind tells how the merging treats a data segment.
type segmentKind uint8

const (
	segmentPassive  segmentKind = iota // writes nothing at instantiation
	segmentConstant                    // writes memory 0 at a constant offset; can be merged
	segmentOther                       // writes where the merging cannot tell
)

// dataSegment is a data segment of the input.
type dataSegment struct {
	kind   segmentKind
	offset uint32 // for segmentConstant
	bytes  int    // offset of the bytes in the input
	size   uint32 // number of bytes
}

// end returns the address just past what s writes, when s is
// segmentConstant.
func (s dataSegment) end() uint64 {
	return uint64(s.offset) + uint64(s.size)
}

// readDataSegment decodes the data segment at b[i:]. It returns a negative
// offset for a segment that it does not understand, as for one whose offset
// expression is neither `i32.const N` nor `global.get N`.
func readDataSegment(b []byte, i int) (dataSegment, int) {
	var s dataSegment
	if uint(i) >= uint(len(b)) {
		return s, -1
	}
	flags := b[i]
	i++
	memory := uint32(0)
	switch flags {
	case dataPassive:
		s.kind = segmentPassive
	case dataActiveMemory:
		if memory, i = readU32(b, i); i < 0 {
			return s, -1
		}
		fallthrough
	case dataActive:
		if i >= len(b) {
			return s, -1
		}
		s.kind = segmentOther
		switch b[i] {
		case opI32Const:
			var offset int32
			offset, i = readS32(b, i+1)
			s.offset = uint32(offset)
			if memory == 0 {
				s.kind = segmentConstant
			}
		case opGlobalGet:
			_, i = readU32(b, i+1)
		default:
			return s, -1
		}
		if i < 0 || i >= len(b) || b[i] != opEnd {
			return s, -1
		}
		i++
	default:
		return s, -1 // including flags that wazero reads as LEB128
	}
	s.size, i = readU32(b, i)
	s.bytes = i
	if i = skipBytes(b, i, uint64(s.size)); i < 0 {
		return s, -1
	}
	if s.kind == segmentConstant && s.end() > math.MaxUint32 {
		s.kind = segmentOther // out of bounds: left for wazero to report
	}
	return s, i
}

// dataRun locates consecutive data segments of the input that the rewrite
// merges into one.
type dataRun struct {
	at, end int    // offsets of the first segment and just past the last
	offset  uint32 // address of the first segment's bytes
	size    uint32 // bytes from the first segment's start to the last's end
}

// encodedSize returns the size of the merged segment.
func (r dataRun) encodedSize() uint64 {
	return uint64(3+s32Size(int32(r.offset))+lebSize(uint64(r.size))) + uint64(r.size)
}

// dataPlan tells how the rewrite outputs the data section.
type dataPlan struct {
	in, out uint32    // numbers of segments of the input and the output
	items   int       // offset of the first segment
	runs    []dataRun // the runs of two segments or more, in order
}

// span is a range of addresses.
type span struct {
	start, end uint64
}

// writtenSpans holds, as at most maxWrittenSpans disjoint spans sorted by
// address, a superset of the addresses that data segments write.
type writtenSpans struct {
	n     int
	spans [maxWrittenSpans + 1]span
	// anywhere reports that a segment writes where the merging cannot tell.
	anywhere bool
}

// add adds the addresses from start to end.
func (w *writtenSpans) add(start, end uint64) {
	if start == end {
		return
	}
	// Replace the spans that overlap or touch [start, end) by their union
	// with it. w.spans has room for one span more than it holds, so that
	// neither slices.Replace nor slices.Delete allocates.
	spans := w.spans[:w.n]
	i := 0
	for i < len(spans) && spans[i].end < start {
		i++
	}
	j := i
	for ; j < len(spans) && spans[j].start <= end; j++ {
		start, end = min(start, spans[j].start), max(end, spans[j].end)
	}
	spans = slices.Replace(spans, i, j, span{start, end})
	if len(spans) > maxWrittenSpans {
		// Keep a superset: merge the two closest spans.
		closest := 0
		for k := 1; k+1 < len(spans); k++ {
			if spans[k+1].start-spans[k].end < spans[closest+1].start-spans[closest].end {
				closest = k
			}
		}
		spans[closest].end = spans[closest+1].end
		spans = slices.Delete(spans, closest+1, closest+2)
	}
	w.n = len(spans)
}

// intersects reports whether a segment may have written to an address from
// start to end.
func (w *writtenSpans) intersects(start, end uint64) bool {
	if w.anywhere {
		return true
	}
	for _, s := range w.spans[:w.n] {
		if s.start < end && start < s.end {
			return true
		}
	}
	return false
}

// coalescer decides which data segments to merge, taking them in order.
type coalescer struct {
	maxGap uint32
	// zeros is the number of zero bytes that gaps may still add.
	zeros   uint64
	written writtenSpans
	run     dataRun // the current run, if members > 0
	members uint32
	runs    []dataRun
	merged  uint32 // segments that merging removes
}

// add takes the segment s, from the input offset at to next.
func (c *coalescer) add(s dataSegment, at, next int) {
	if s.kind != segmentConstant {
		c.endRun()
		c.written.anywhere = c.written.anywhere || s.kind == segmentOther
		return
	}
	if c.members > 0 {
		runEnd := uint64(c.run.offset) + uint64(c.run.size)
		if start := uint64(s.offset); start >= runEnd && c.canFill(runEnd, start) {
			c.zeros -= start - runEnd
			c.run.size = uint32(s.end() - uint64(c.run.offset))
			c.run.end = next
			c.members++
			return
		}
		c.endRun()
	}
	c.run = dataRun{at: at, end: next, offset: s.offset, size: s.size}
	c.members = 1
}

// canFill reports whether the current run can fill the addresses from start
// to end with zeros: if there are at most maxGap of them, within the budget,
// and no segment before the run may have written there. The merged segment
// writes them after those segments, so they leave memory as it was only
// where none of them wrote.
func (c *coalescer) canFill(start, end uint64) bool {
	gap := end - start
	return gap == 0 || gap <= uint64(c.maxGap) && gap <= c.zeros && !c.written.intersects(start, end)
}

// endRun ends the current run, if any.
func (c *coalescer) endRun() {
	if c.members == 0 {
		return
	}
	c.written.add(uint64(c.run.offset), uint64(c.run.offset)+uint64(c.run.size))
	if c.members > 1 {
		c.runs = append(c.runs, c.run)
		c.merged += c.members - 1
	}
	c.members = 0
}

// scanData decides which segments of the data section s to merge.
func (m *module) scanData(s *section) {
	b := m.in[:s.end]
	count, i := readU32(b, s.content)
	if i < 0 {
		return
	}
	m.data = dataPlan{in: count, out: count, items: i}
	// A segment takes at least two bytes: passive, of no bytes.
	if m.index[sectionDataCount] >= 0 || m.importedMemories > 0 || uint64(count) > uint64(len(b)-i)/2 {
		return
	}
	// The zeros bound the size of the output: they fill no more than
	// extraDataZeros bytes beyond the bytes of the section.
	c := coalescer{maxGap: m.maxDataGap, zeros: uint64(s.end-s.content) + extraDataZeros}
	for k := uint32(0); k < count; k++ {
		seg, next := readDataSegment(b, i)
		if next < 0 {
			return
		}
		c.add(seg, i, next)
		i = next
	}
	if i != len(b) {
		return
	}
	c.endRun()
	m.data.runs, m.data.out = c.runs, count-c.merged
}

// dataSize returns the content size of the data section with the runs
// merged.
func (r *rewriter) dataSize() uint64 {
	s := r.sections[r.index[sectionData]]
	size := uint64(lebSize(uint64(r.data.out))) + uint64(s.end-r.data.items)
	for _, run := range r.data.runs {
		size = size - uint64(run.end-run.at) + run.encodedSize()
	}
	return size
}

// appendData appends the data section with the runs merged.
func (r *rewriter) appendData(out []byte) []byte {
	s := r.sections[r.index[sectionData]]
	out = appendU32(append(out, sectionData), uint32(r.dataSize()))
	out = appendU32(out, r.data.out)
	at := r.data.items
	for _, run := range r.data.runs {
		out = append(out, r.in[at:run.at]...)
		out = appendS32(append(out, dataActive, opI32Const), int32(run.offset))
		out = appendU32(append(out, opEnd), run.size)
		address := uint64(run.offset)
		for i := run.at; i < run.end; {
			seg, next := readDataSegment(r.in[:run.end], i) // as scanData read it
			out = append(out, make([]byte, uint64(seg.offset)-address)...)
			out = append(out, r.in[seg.bytes:seg.bytes+int(seg.size)]...)
			address, i = seg.end(), next
		}
		at = run.end
	}
	return append(out, r.in[at:s.end]...)
}
