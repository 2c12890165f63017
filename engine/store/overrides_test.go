package store

import (
	"encoding/json"
	"testing"
)

// TestOverrideConfigurationJSON checks the Configuration column keeps the
// original engine's shape.
func TestOverrideConfigurationJSON(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	o := Override{App: "AppName", Task: "MaintenanceTask", Enabled: new(false), Schedule: json.RawMessage(`"0 3 * * *"`),
		Environment: map[string]string{"LOG_LEVEL": "DEBUG"}}
	if err := s.PutOverride(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	var config string
	if err := s.rdb.QueryRow(`SELECT Configuration FROM TaskConfigurations`).Scan(&config); err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"MaintenanceTask","appName":"AppName","enabled":false,"schedule":"0 3 * * *","environment":{"LOG_LEVEL":"DEBUG"}}`
	if config != want {
		t.Errorf("Configuration = %s\nwant %s", config, want)
	}
}
