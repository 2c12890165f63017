package schedule

import (
	"hash/fnv"
	"math/bits"
)

// hashKey returns the stable hash behind H: 64-bit FNV-1a of the task's key,
// a zero byte and the position of the field (0 = second … 5 = day-of-week,
// 6 = the phase of @every), passed through MurmurHash3's 64-bit finalizer
// (fmix64). FNV alone leaves its high bits nearly unchanged by the last
// bytes, which would tie the fields of one task, and tasks whose keys differ
// only at the end, to nearly the same values; the finalizer spreads every
// input bit over all output bits. The hash must never change between
// releases, because changing it would move every task that uses H.
func hashKey(key string, pos int) uint64 {
	f := fnv.New64a()
	f.Write([]byte(key))
	f.Write([]byte{0, byte(pos)})
	h := f.Sum64()
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// pick maps the hash h uniformly onto 0..n-1: it is the high word of the
// 128-bit product h·n.
func pick(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}
