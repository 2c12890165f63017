package instrument

// This file takes the data segments out of a module, as InstrumentImage
// describes: module.takeImage decides whether it can and builds the Image.

// Image is what the active data segments of a module write to its memory
// when it is instantiated: applying Segments in order to a zeroed memory
// of at least Size bytes gives the memory the module starts with.
type Image struct {
	Segments []Segment
	// Size is the address just past the last byte a segment writes.
	Size uint64
}

// Segment is a run of bytes at an address of memory 0.
type Segment struct {
	Offset uint32
	Bytes  []byte
}

// InstrumentImage is Instrument, but for a module whose data segments all
// write memory 0 at constant offsets, within the size the memory starts
// with, it also takes the data section out of the output and returns what
// the segments wrote as Info.Image: the host then gives each instance a
// memory that holds the image already, instead of the runtime copying the
// segments in at every instantiation.
//
// Taking them out is invisible to the guest when the host does so. No
// segment can fail the instantiation, all being in bounds. Only memory.init
// and data.drop name segments, and those require a data count section, so
// the module of one is left as Instrument leaves it; so is one that imports
// its memory, or whose memory is not a plain 32-bit one, or that has no
// segment at all (Info.Image is then nil). Image.Segments are the segments
// as Instrument would output them, merged, with their bytes copied out of
// wasm.
func InstrumentImage(wasm []byte) ([]byte, Info, error) {
	o := defaultOptions
	o.image = true
	return instrument(wasm, o)
}

// takeImage builds the image of the data section s and drops s from the
// output, if the module allows it (see InstrumentImage). scanData has
// planned the merging of s.
func (m *module) takeImage(s *section) {
	if m.index[sectionDataCount] >= 0 || m.importedMemories > 0 || m.data.in == 0 {
		return
	}
	k := m.index[sectionMemory]
	if k < 0 || m.sections[k].count != 1 {
		return
	}
	mem, next := readLimits(m.in[:m.sections[k].end], m.sections[k].items)
	if next < 0 || mem.flags&^limitsHasMax != 0 {
		return // shared, or not decoded as Instrument reads it
	}
	b := m.in[:s.end]
	var segs []Segment
	var size, total uint64
	var n uint32 // segments read
	runs := m.data.runs
	for i := m.data.items; i < len(b); {
		if len(runs) > 0 && i == runs[0].at {
			r := runs[0]
			segs = append(segs, Segment{Offset: r.offset, Bytes: make([]byte, r.size)})
			for j := r.at; j < r.end; {
				seg, next := readDataSegment(b[:r.end], j)
				copy(segs[len(segs)-1].Bytes[seg.offset-r.offset:], b[seg.bytes:seg.bytes+int(seg.size)])
				j, n = next, n+1
			}
			size, total = max(size, uint64(r.offset)+uint64(r.size)), total+uint64(r.size)
			i, runs = r.end, runs[1:]
			continue
		}
		seg, next := readDataSegment(b, i)
		if next < 0 || seg.kind != segmentConstant {
			return
		}
		segs = append(segs, Segment{Offset: seg.offset, Bytes: b[seg.bytes : seg.bytes+int(seg.size)]})
		size, total = max(size, seg.end()), total+uint64(seg.size)
		i, n = next, n+1
	}
	if n != m.data.in {
		return // malformed: left for wazero to refuse
	}
	if size > uint64(mem.min)*pageSize {
		return // out of bounds: left for wazero to fail the instantiation
	}
	// The bytes of unmerged segments still point into the input: copy them
	// all into one buffer of the image's own.
	buf := make([]byte, 0, total)
	for i := range segs {
		at := len(buf)
		buf = append(buf, segs[i].Bytes...)
		segs[i].Bytes = buf[at:len(buf):len(buf)]
	}
	m.image = &Image{Segments: segs, Size: size}
	s.drop = true
}

// pageSize is the size of a page of memory.
const pageSize = 1 << 16
