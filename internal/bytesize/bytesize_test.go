package bytesize

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"512", 512},
		{"512B", 512},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"64Mi", 64 << 20},
		{"1.5GiB", 3 << 29},
		{"4GiB", 4 << 30},
		{"10MB", 10_000_000},
		{"10M", 10_000_000},
		{"2kB", 2000},
		{"1KiB", 1024},
		{" 8 KiB ", 8192},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "MiB", "-1", "1e9", "0x10", "ten", "1 2MiB", "NaN", "Inf", "99999999999TiB", "1_000"} {
		t.Run(in, func(t *testing.T) {
			if _, err := Parse(in); !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error = %v; want ErrSyntax", in, err)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {512, "512 B"}, {1024, "1 KiB"}, {64 << 20, "64 MiB"}, {3 << 29, "1.5 GiB"}, {1536, "1.5 KiB"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"64MiB", "1.5GB", "0", "abc", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d: negative", s, n)
		}
		// Exact sizes (no decimal point) must survive a round trip.
		if out := Format(n); !strings.Contains(out, ".") {
			if m, err := Parse(out); err != nil || m != n {
				t.Fatalf("Parse(Format(%d) = %q) = %d, %v", n, out, m, err)
			}
		}
	})
}
