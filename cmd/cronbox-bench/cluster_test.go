package main

import (
	"strings"
	"testing"

	"github.com/cronbox/cronbox/internal/pgtest"
)

// TestBenchCluster runs the cluster benchmark small, on two nodes: it
// measures every row, counts round trips, measures the takeover of a
// killed node, and says of each target whether it is met.
func TestBenchCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Go SDK task and fires tasks on the real clock")
	}
	pgtest.URL(t) // skips, or fails under CRONBOX_REQUIRE_POSTGRES=1, without a server
	var out strings.Builder
	if err := benchCluster(t.Context(), &out, pgtest.ServerURL(), []int{2}, 20, 40); err != nil {
		t.Fatalf("benchCluster: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"SQLite (baseline)   1", "PostgreSQL          2",
		"<= 3 round trips per run:", "not measured (-nodes lacks 3)", "takeover < 15 s: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "takeover < 15 s: 0s") {
		t.Errorf("no takeover measured:\n%s", got)
	}
	if strings.Contains(got, "round trips per run: 0.00") {
		t.Errorf("no round trips counted:\n%s", got)
	}
}
