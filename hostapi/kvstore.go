package hostapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrInvalidKey is returned by MemoryKV and FileKV for a key that is
// empty, contains a NUL byte or is not valid UTF-8.
var ErrInvalidKey = errors.New("invalid key")

// ErrQuota is wrapped by the error of a KV's Set that would take the store
// past its quota. The host functions answer it with ELIMIT.
var ErrQuota = errors.New("quota exceeded")

func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w %q: contains a NUL byte", ErrInvalidKey, key)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidKey, key)
	}
	return nil
}

// table is a map with its keys also kept sorted, so that listing a page
// costs a binary search plus the page: O(log n + limit). Inserting a new
// key costs O(n) to shift the sorted slice, which is fast for tens of
// thousands of keys.
type table struct {
	values map[string][]byte
	keys   []string // ascending
}

func newTable(values map[string][]byte) table {
	if values == nil {
		values = map[string][]byte{}
	}
	return table{values: values, keys: slices.Sorted(maps.Keys(values))}
}

func (t *table) get(key string) ([]byte, bool) {
	v, ok := t.values[key]
	return v, ok
}

func (t *table) set(key string, value []byte) {
	if _, ok := t.values[key]; !ok {
		i, _ := slices.BinarySearch(t.keys, key)
		t.keys = slices.Insert(t.keys, i, key)
	}
	t.values[key] = value
}

func (t *table) delete(key string) {
	if _, ok := t.values[key]; !ok {
		return
	}
	delete(t.values, key)
	if i, ok := slices.BinarySearch(t.keys, key); ok {
		t.keys = slices.Delete(t.keys, i, i+1)
	}
}

func (t *table) list(prefix, after string, limit int) []string {
	start := prefix
	if after >= start {
		start = after + "\x00" // the least string greater than after
	}
	i, _ := slices.BinarySearch(t.keys, start)
	var out []string
	for ; i < len(t.keys) && len(out) < limit && strings.HasPrefix(t.keys[i], prefix); i++ {
		out = append(out, t.keys[i])
	}
	return out
}

// MemoryKV is a KV held in memory, safe for concurrent use. Its zero value
// is not usable; create one with NewMemoryKV.
type MemoryKV struct {
	mu sync.RWMutex
	t  table
}

var _ KV = (*MemoryKV)(nil)

// NewMemoryKV returns an empty MemoryKV.
func NewMemoryKV() *MemoryKV {
	return &MemoryKV{t: newTable(nil)}
}

// Get implements KV.
func (m *MemoryKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.t.get(key)
	return slices.Clone(v), ok, nil
}

// Set implements KV.
func (m *MemoryKV) Set(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	v := append([]byte{}, value...)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t.set(key, v)
	return nil
}

// Delete implements KV.
func (m *MemoryKV) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t.delete(key)
	return nil
}

// List implements KV. A limit of 0 or less lists nothing.
func (m *MemoryKV) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.list(prefix, after, limit), nil
}

// FileKV is a KV kept in one JSON file. The file is read at the first
// operation, kept in memory, and rewritten as a whole on every change:
// written to a temporary file beside it, synced, and renamed over it, so a
// crash leaves either the old or the new contents. That suits small
// namespaces (up to some tens of thousands of keys); a busy app wants the
// engine's store. A FileKV is safe for concurrent use, but only one FileKV
// (in one process) may use a file at a time.
type FileKV struct {
	path string

	mu     sync.Mutex
	loaded bool
	t      table
}

var _ KV = (*FileKV)(nil)

// fileFormat is the version of the JSON file.
const fileFormat = 1

// fileData is the JSON file: values are base64 (encoding/json's []byte).
type fileData struct {
	Format  int               `json:"format"`
	Entries map[string][]byte `json:"entries"`
}

// OpenFileKV returns a FileKV stored at path. The file need not exist (it
// is created at the first change) but its directory must; the file is read
// at the first operation.
func OpenFileKV(path string) (*FileKV, error) {
	if path == "" {
		return nil, errors.New("opening kv file: empty path")
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("opening kv file %s: %w", path, err)
	}
	if !dir.IsDir() {
		return nil, fmt.Errorf("opening kv file %s: %s is not a directory", path, filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("opening kv file %s: not a regular file", path)
	}
	return &FileKV{path: path}, nil
}

// load reads the file once; f.mu is held.
func (f *FileKV) load() error {
	if f.loaded {
		return nil
	}
	b, err := os.ReadFile(f.path)
	var data fileData
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("loading kv file: %w", err)
	default:
		if err := json.Unmarshal(b, &data); err != nil {
			return fmt.Errorf("loading kv file %s: %w", f.path, err)
		}
		if data.Format != fileFormat {
			return fmt.Errorf("loading kv file %s: unknown format %d", f.path, data.Format)
		}
	}
	f.t = newTable(data.Entries)
	f.loaded = true
	return nil
}

// save writes the table to the file atomically; f.mu is held.
func (f *FileKV) save() error {
	b, err := json.Marshal(fileData{Format: fileFormat, Entries: f.t.values})
	if err != nil {
		return fmt.Errorf("saving kv file: %w", err)
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving kv file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		return fmt.Errorf("saving kv file: %w", err)
	}
	// Make the rename durable; not every system can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Get implements KV.
func (f *FileKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return nil, false, err
	}
	v, ok := f.t.get(key)
	return slices.Clone(v), ok, nil
}

// Set implements KV. The change is on disk when Set returns.
func (f *FileKV) Set(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return err
	}
	old, had := f.t.get(key)
	f.t.set(key, append([]byte{}, value...))
	if err := f.save(); err != nil {
		if had {
			f.t.set(key, old)
		} else {
			f.t.delete(key)
		}
		return err
	}
	return nil
}

// Delete implements KV. The change is on disk when Delete returns.
func (f *FileKV) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return err
	}
	old, had := f.t.get(key)
	if !had {
		return nil
	}
	f.t.delete(key)
	if err := f.save(); err != nil {
		f.t.set(key, old)
		return err
	}
	return nil
}

// List implements KV. A limit of 0 or less lists nothing.
func (f *FileKV) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return nil, err
	}
	return f.t.list(prefix, after, limit), nil
}
