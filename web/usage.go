package web

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// usageJSON is what a run consumed, or an app's runs together.
type usageJSON struct {
	CPUSeconds        float64 `json:"cpuSeconds"`
	PeakMemory        int64   `json:"peakMemory"`
	OutputBytes       int64   `json:"outputBytes"`
	LogBytes          int64   `json:"logBytes"`
	HTTPSentBytes     int64   `json:"httpSentBytes"`
	HTTPReceivedBytes int64   `json:"httpReceivedBytes"`
	KVWrittenBytes    int64   `json:"kvWrittenBytes"`
	FilesWrittenBytes int64   `json:"filesWrittenBytes"`
}

func usageJSONOf(u store.Usage) usageJSON {
	return usageJSON{
		CPUSeconds: u.CPUTime.Seconds(), PeakMemory: u.PeakMemory, OutputBytes: u.OutputBytes, LogBytes: u.LogBytes,
		HTTPSentBytes: u.HTTPSent, HTTPReceivedBytes: u.HTTPReceived, KVWrittenBytes: u.KVWritten, FilesWrittenBytes: u.FilesWritten,
	}
}

// appUsageJSON is the usage of an app's runs summed.
type appUsageJSON struct {
	Runs int64 `json:"runs"`
	usageJSON
}

// appUsagesJSON is an app's usage over the last day and in total.
type appUsagesJSON struct {
	Last24h appUsageJSON `json:"last24h"`
	Total   appUsageJSON `json:"total"`
}

// usageDay is the period of an app's recent usage.
const usageDay = 24 * time.Hour

// appUsages is every app's usage: in the last day (its retained runs that
// ended then) and in total (every run recorded, pruned ones included).
type appUsages struct {
	day, total map[string]store.AppUsage
}

func (s *Server) appUsages(ctx context.Context) (appUsages, error) {
	day, err := s.st.Usage.UsageSince(ctx, s.eng.Now().Add(-usageDay))
	if err != nil {
		return appUsages{}, err
	}
	total, err := s.st.Usage.UsageTotals(ctx)
	if err != nil {
		return appUsages{}, err
	}
	return appUsages{day: day, total: total}, nil
}

func (u appUsages) of(app string) *appUsagesJSON {
	day, total := u.day[app], u.total[app]
	return &appUsagesJSON{
		Last24h: appUsageJSON{Runs: day.Runs, usageJSON: usageJSONOf(day.Usage)},
		Total:   appUsageJSON{Runs: total.Runs, usageJSON: usageJSONOf(total.Usage)},
	}
}

// runUsage is the usage of a finished run, or nil for a run that has not
// finished or was recorded before usage was.
func (s *Server) runUsage(ctx context.Context, r *store.Run) (*usageJSON, error) {
	if r.Status == store.StatusRunning {
		return nil, nil
	}
	u, err := s.st.Usage.RunUsage(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j := usageJSONOf(u)
	return &j, nil
}

// writeUsageMetrics writes the apps' usage totals as counters (and their
// largest peak memory as a gauge), for the apps sees admits.
func writeUsageMetrics(pw promWriter, totals map[string]store.AppUsage, sees func(string) bool) {
	names := make([]string, 0, len(totals))
	for a := range totals {
		if sees(a) {
			names = append(names, a)
		}
	}
	slices.Sort(names)
	counter := func(name, help string, v func(u store.AppUsage) float64) {
		pw.header(name, "counter", help)
		for _, a := range names {
			pw.sample(name, []string{"app", a}, v(totals[a]))
		}
	}
	counter("cronbox_usage_runs_total", "Finished runs whose usage is metered, by app.",
		func(u store.AppUsage) float64 { return float64(u.Runs) })
	counter("cronbox_usage_cpu_seconds_total", "CPU time of the runs (guest and host calls), by app.",
		func(u store.AppUsage) float64 { return u.CPUTime.Seconds() })
	counter("cronbox_usage_output_bytes_total", "Output (stdout and stderr) kept of the runs, by app.",
		func(u store.AppUsage) float64 { return float64(u.OutputBytes) })
	counter("cronbox_usage_log_bytes_total", "Log and progress messages of the runs, by app.",
		func(u store.AppUsage) float64 { return float64(u.LogBytes) })
	pw.header("cronbox_usage_http_bytes_total", "counter", "HTTP body bytes of the runs, by app and direction (sent, received).")
	for _, a := range names {
		pw.sample("cronbox_usage_http_bytes_total", []string{"app", a, "direction", "sent"}, float64(totals[a].HTTPSent))
		pw.sample("cronbox_usage_http_bytes_total", []string{"app", a, "direction", "received"}, float64(totals[a].HTTPReceived))
	}
	counter("cronbox_usage_kv_written_bytes_total", "Bytes of keys and values the runs stored, by app.",
		func(u store.AppUsage) float64 { return float64(u.KVWritten) })
	counter("cronbox_usage_files_written_bytes_total", "Bytes the runs wrote to the app's files, by app.",
		func(u store.AppUsage) float64 { return float64(u.FilesWritten) })
	pw.header("cronbox_usage_peak_memory_bytes", "gauge", "The largest peak memory (guest plus host-held) of a run, by app.")
	for _, a := range names {
		pw.sample("cronbox_usage_peak_memory_bytes", []string{"app", a}, float64(totals[a].PeakMemory))
	}
}
