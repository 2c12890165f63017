package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/cronbox/cronbox/sdk"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: the host is unreachable
		want    result
	}{
		{
			name: "reading",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("latitude") != "1.5" {
					t.Errorf("latitude = %q, want the configured 1.5", r.URL.Query().Get("latitude"))
				}
				io.WriteString(w, `{"current": {"temperature_2m": 21.5}}`)
			},
			want: result{Available: true},
		},
		{
			name:    "server error",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) },
			want:    result{Reason: "open-meteo answered 503"},
		},
		{
			name:    "no temperature",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) },
			want:    result{Reason: "open-meteo's answer has no current temperature"},
		},
		{name: "unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sdk.NewFake(t)
			f.SetConfig(map[string]any{"latitude": 1.5, "longitude": 2})
			if tc.handler != nil {
				f.HandleHTTP("api.open-meteo.com", tc.handler)
			}
			if err := run(); err != nil {
				t.Fatalf("run failed: %v; a missing reading should not fail the task", err)
			}
			var got result
			f.Result(&got)
			if got.Available != tc.want.Available {
				t.Fatalf("result = %+v, want available %v", got, tc.want.Available)
			}
			if got.Available && (got.Temperature == nil || *got.Temperature != 21.5) {
				t.Errorf("temperature = %v, want 21.5", got.Temperature)
			}
			if !got.Available && tc.want.Reason != "" && got.Reason != tc.want.Reason {
				t.Errorf("reason = %q, want %q", got.Reason, tc.want.Reason)
			}
			if !got.Available && len(f.Logs()) == 0 {
				t.Error("no warning logged")
			}
		})
	}
}
