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

// tableKV is the KV that MemoryKV and FileKV share: a table behind a
// mutex, with hooks that FileKV fills to read the table from its file
// once and write it back after every change.
type tableKV struct {
	// load returns the table's first contents, at the first operation
	// (and again after a failure). Nil: an empty table.
	load func() (map[string][]byte, error)
	// save stores the table after a change; a change it fails is undone.
	// Nil: nothing to store.
	save func(values map[string][]byte) error

	mu     sync.Mutex
	loaded bool
	t      table
}

// lock takes the mutex once ctx is not done and the table is loaded; the
// caller unlocks k.mu when it returns nil.
func (k *tableKV) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	if k.loaded {
		return nil
	}
	var values map[string][]byte
	if k.load != nil {
		var err error
		if values, err = k.load(); err != nil {
			k.mu.Unlock()
			return err
		}
	}
	k.t, k.loaded = newTable(values), true
	return nil
}

// saved stores the table after a change, or undoes the change with undo;
// k.mu is held.
func (k *tableKV) saved(undo func()) error {
	if k.save == nil {
		return nil
	}
	if err := k.save(k.t.values); err != nil {
		undo()
		return err
	}
	return nil
}

// Get implements KV.
func (k *tableKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := k.lock(ctx); err != nil {
		return nil, false, err
	}
	defer k.mu.Unlock()
	v, ok := k.t.get(key)
	return slices.Clone(v), ok, nil
}

// Set implements KV.
func (k *tableKV) Set(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := k.lock(ctx); err != nil {
		return err
	}
	defer k.mu.Unlock()
	old, had := k.t.get(key)
	k.t.set(key, append([]byte{}, value...))
	return k.saved(func() {
		if had {
			k.t.set(key, old)
		} else {
			k.t.delete(key)
		}
	})
}

// Delete implements KV.
func (k *tableKV) Delete(ctx context.Context, key string) error {
	if err := k.lock(ctx); err != nil {
		return err
	}
	defer k.mu.Unlock()
	old, had := k.t.get(key)
	if !had {
		return nil
	}
	k.t.delete(key)
	return k.saved(func() { k.t.set(key, old) })
}

// List implements KV. A limit of 0 or less lists nothing.
func (k *tableKV) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	if err := k.lock(ctx); err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	return k.t.list(prefix, after, limit), nil
}

// MemoryKV is a KV held in memory, safe for concurrent use. Create one
// with NewMemoryKV.
type MemoryKV struct {
	tableKV
}

var _ KV = (*MemoryKV)(nil)

// NewMemoryKV returns an empty MemoryKV.
func NewMemoryKV() *MemoryKV {
	return &MemoryKV{}
}

// FileKV is a KV kept in one JSON file. The file is read at the first
// operation, kept in memory, and rewritten as a whole on every change:
// written to a temporary file beside it, synced, and renamed over it, so a
// crash leaves either the old or the new contents. That suits small
// namespaces (up to some tens of thousands of keys); a busy app wants the
// engine's store. A FileKV is safe for concurrent use, but only one FileKV
// (in one process) may use a file at a time.
//
// Its Set and Delete have the change on disk when they return; a change
// that could not be written is undone and returns the error.
type FileKV struct {
	tableKV
	path string
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
	f := &FileKV{path: path}
	f.load, f.save = f.loadFile, f.saveFile
	return f, nil
}

// loadFile reads the file; f.mu is held.
func (f *FileKV) loadFile() (map[string][]byte, error) {
	b, err := os.ReadFile(f.path)
	var data fileData
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("loading kv file: %w", err)
	default:
		if err := json.Unmarshal(b, &data); err != nil {
			return nil, fmt.Errorf("loading kv file %s: %w", f.path, err)
		}
		if data.Format != fileFormat {
			return nil, fmt.Errorf("loading kv file %s: unknown format %d", f.path, data.Format)
		}
	}
	return data.Entries, nil
}

// saveFile writes values to the file atomically; f.mu is held.
func (f *FileKV) saveFile(values map[string][]byte) error {
	b, err := json.Marshal(fileData{Format: fileFormat, Entries: values})
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
