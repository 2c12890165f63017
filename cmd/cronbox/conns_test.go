package main

import (
	"strings"
	"testing"
)

func TestConnLimit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		want   int
		nofile uint64
		got    int
		err    string
	}{
		{0, 20000, 20000/2 - localMaxConns, ""},
		{0, 1024, 1024/2 - localMaxConns, ""},
		{0, 1 << 20, maxDefaultConns, ""},
		{0, 1<<64 - 1, maxDefaultConns, ""},
		{0, 300, 1, ""},
		{0, 0, 1024, ""},
		{100, 1024, 100, ""},
		{100, 0, 100, ""},
		{1024 - minFDReserve - localMaxConns, 1024, 1024 - minFDReserve - localMaxConns, ""},
		{1024 - minFDReserve - localMaxConns + 1, 1024, 0, "stay free"},
		{-1, 1024, 0, "positive"},
	} {
		got, err := connLimit(c.want, c.nofile)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("connLimit(%d, %d): %d, %v; want an error saying %q", c.want, c.nofile, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.got {
			t.Errorf("connLimit(%d, %d) = %d, %v; want %d", c.want, c.nofile, got, err, c.got)
		}
		// What the connections may take leaves the reserve free.
		if c.nofile > 0 && c.nofile < 1<<30 && uint64(got+localMaxConns+minFDReserve) > c.nofile && got > 1 {
			t.Errorf("connLimit(%d, %d) = %d leaves fewer than %d descriptors", c.want, c.nofile, got, minFDReserve)
		}
	}
}
