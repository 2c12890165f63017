package hostapi_test

import (
	"path/filepath"
	"testing"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/hostapi/kvtest"
)

func TestMemoryKVConformance(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(*testing.T) hostapi.KV { return hostapi.NewMemoryKV() })
}

func TestFileKVConformance(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T) hostapi.KV {
		kv, err := hostapi.OpenFileKV(filepath.Join(t.TempDir(), "kv.json"))
		if err != nil {
			t.Fatal(err)
		}
		return kv
	})
}
