// Package bytesize parses and formats sizes such as "64MiB" or "1.5GB".
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid size")

var units = []struct {
	suffix string
	mult   float64
}{
	// Longest suffixes first, so "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"kB", 1e3}, {"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	{"B", 1},
}

// Parse reads a size: a non-negative number with an optional unit. Binary
// units (KiB, MiB, GiB, TiB, or Ki, Mi, Gi, Ti) are powers of 1024; decimal
// ones (kB, MB, GB, TB, or k, M, G, T) powers of 1000; B or no unit is bytes.
// Space between number and unit is allowed. Fractions are rounded down to
// whole bytes.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+-eExXpP_") {
		return 0, fmt.Errorf("%w %q: want a number with an optional unit such as 64MiB", ErrSyntax, s)
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("%w %q: want a number with an optional unit such as 64MiB", ErrSyntax, s)
	}
	v := n * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%w %q: too large", ErrSyntax, s)
	}
	return int64(v), nil
}

// Format writes n bytes with the largest binary unit that keeps it exact to
// one decimal, e.g. "64 MiB", "1.5 GiB", "512 B".
func Format(n int64) string {
	abs := n
	if abs < 0 {
		abs = -abs
	}
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if abs >= u.size {
			v := float64(n) / float64(u.size)
			if n%u.size == 0 {
				return fmt.Sprintf("%d %s", n/u.size, u.name)
			}
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + u.name
		}
	}
	return fmt.Sprintf("%d B", n)
}
