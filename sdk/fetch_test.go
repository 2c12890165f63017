//go:build !wasip1

package sdk

import (
	"errors"
	"strings"
	"testing"
)

// TestFetchRaw drives the ERANGE protocol with scripted hosts, including
// misbehaving ones the fake never imitates.
func TestFetchRaw(t *testing.T) {
	data := []byte(strings.Repeat("d", 10_000))
	tests := []struct {
		name    string
		call    func(calls int, out []byte) (uint32, Errno)
		want    []byte
		wantErr string // a substring of the error; "" for success
		calls   int    // how many calls the host must see
	}{{
		name: "fits",
		call: func(_ int, out []byte) (uint32, Errno) {
			return uint32(copy(out, "small")), 0
		},
		want:  []byte("small"),
		calls: 1,
	}, {
		name: "grows once",
		call: func(_ int, out []byte) (uint32, Errno) {
			if len(out) < len(data) {
				return uint32(len(data)), ErrRange
			}
			return uint32(copy(out, data)), 0
		},
		want:  data,
		calls: 2,
	}, {
		name: "data grows between calls",
		call: func(calls int, out []byte) (uint32, Errno) {
			need := initialBuffer + 10*min(calls, 2)
			if len(out) < need {
				return uint32(need), ErrRange
			}
			return uint32(copy(out, data[:need])), 0
		},
		want:  data[:initialBuffer+20],
		calls: 3,
	}, {
		name: "keeps growing",
		call: func(_ int, out []byte) (uint32, Errno) {
			return uint32(len(out) + 1), ErrRange
		},
		wantErr: "kept growing",
		calls:   maxAttempts,
	}, {
		name: "beyond the cap",
		call: func(int, []byte) (uint32, Errno) {
			return maxBuffer + 1, ErrRange
		},
		wantErr: "exceed the SDK's limit",
		calls:   1,
	}, {
		name: "ERANGE without growth",
		call: func(_ int, out []byte) (uint32, Errno) {
			return uint32(len(out)), ErrRange
		},
		wantErr: "reported 4096 bytes for a buffer of 4096",
		calls:   1,
	}, {
		name: "success beyond the buffer",
		call: func(_ int, out []byte) (uint32, Errno) {
			return uint32(len(out) + 1), 0
		},
		wantErr: "reported 4097 bytes",
		calls:   1,
	}, {
		name: "failure",
		call: func(int, []byte) (uint32, Errno) {
			return 0, ErrDenied
		},
		wantErr: "permission denied",
		calls:   1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := fetchRaw("test_get", func(out []byte) (uint32, Errno) {
				calls++
				return tt.call(calls, out)
			})
			if calls != tt.calls {
				t.Errorf("the host saw %d calls, want %d", calls, tt.calls)
			}
			if tt.wantErr == "" {
				if err != nil || string(got) != string(tt.want) {
					t.Errorf("fetchRaw = %d bytes, %v; want %d bytes", len(got), err, len(tt.want))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("fetchRaw error = %v, want one containing %q", err, tt.wantErr)
			}
			var ce *CallError
			if errors.As(err, &ce) && ce.Op != "test_get" {
				t.Errorf("error op = %q, want test_get", ce.Op)
			}
		})
	}
}
