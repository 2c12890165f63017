package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/cronbox/cronbox/engine/app"
)

// SetEnabled switches the app name in home on or off by rewriting the
// enabled field of its app.yaml, adding the field when it is absent. The
// rest of the file is kept byte for byte where the field can be edited in
// place (the usual case: a plain enabled: line in a block mapping);
// otherwise the file is re-encoded from its YAML nodes, which keeps
// comments and order but may change spacing. The file is replaced
// atomically. An app that is not installed is an error wrapping
// ErrNotFound. A running engine applies the change when it next looks at
// the apps folder.
func SetEnabled(home, name string, enabled bool) error {
	dir, err := existing(home, name)
	if err != nil {
		return fmt.Errorf("setting enabled of app %s: %w", name, err)
	}
	path := filepath.Join(dir, app.ManifestPath)
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("setting enabled of app %s: %w: no %s", name, ErrNotFound, app.ManifestPath)
	case err != nil:
		return fmt.Errorf("setting enabled of app %s: %w", name, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("setting enabled of app %s: %s is not a regular file", name, path)
	case fi.Size() > app.MaxFileSize:
		return fmt.Errorf("setting enabled of app %s: %s is larger than %d bytes", name, path, app.MaxFileSize)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("setting enabled of app %s: %w", name, err)
	}
	out, err := withEnabled(src, enabled)
	if err != nil {
		return fmt.Errorf("setting enabled of app %s: %s: %w", name, app.ManifestPath, err)
	}
	if bytes.Equal(out, src) {
		return nil
	}
	if err := writeFileAtomic(path, out, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("setting enabled of app %s: %w", name, err)
	}
	return nil
}

// withEnabled returns the app.yaml src with its top-level enabled field
// set to enabled.
func withEnabled(src []byte, enabled bool) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping of fields")
	}
	m := doc.Content[0]
	word := strconv.FormatBool(enabled)
	if out := spliceEnabled(src, m, word); out != nil && onlyEnabledChanged(src, out, enabled) {
		return out, nil
	}
	if out := reencodeEnabled(&doc, m, word); out != nil && onlyEnabledChanged(src, out, enabled) {
		return out, nil
	}
	return nil, errors.New("cannot change the enabled field alone; edit it by hand")
}

// onlyEnabledChanged reports whether out reads as src with enabled set to
// enabled and nothing else changed.
func onlyEnabledChanged(src, out []byte, enabled bool) bool {
	var before, after map[string]any
	if yaml.Unmarshal(src, &before) != nil || yaml.Unmarshal(out, &after) != nil || after["enabled"] != enabled {
		return false
	}
	delete(before, "enabled")
	delete(after, "enabled")
	return reflect.DeepEqual(before, after)
}

// spliceEnabled edits src as text, or returns nil when it cannot do so
// safely: it replaces a plain one-line enabled value in a block mapping,
// or adds an enabled line after the first field's line.
func spliceEnabled(src []byte, m *yaml.Node, word string) []byte {
	if m.Style&yaml.FlowStyle != 0 {
		return nil
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	offset := func(line, col int) int { // 1-based line and column
		if line < 1 || line > len(lines) {
			return -1
		}
		n := 0
		for _, l := range lines[:line-1] {
			n += len(l)
		}
		return n + col - 1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value != "enabled" {
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Style != 0 || v.Value == "" || v.Line != k.Line {
			return nil
		}
		at := offset(v.Line, v.Column)
		if at < 0 || !bytes.HasPrefix(src[at:], []byte(v.Value)) {
			return nil
		}
		out := append([]byte{}, src[:at]...)
		out = append(out, word...)
		return append(out, src[at+len(v.Value):]...)
	}
	if len(m.Content) < 2 {
		return nil
	}
	k, v := m.Content[0], m.Content[1]
	if v.Kind != yaml.ScalarNode || v.Line != k.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || k.Line > len(lines) {
		return nil
	}
	// After the first field's line: the next line begins another field
	// (or a comment), since the value is on one line.
	at := offset(k.Line+1, 1)
	if k.Line == len(lines) {
		at = len(src)
	}
	if at < 0 {
		return nil
	}
	var out []byte
	out = append(out, src[:at]...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, bytes.Repeat([]byte(" "), k.Column-1)...)
	out = append(out, "enabled: "+word+"\n"...)
	return append(out, src[at:]...)
}

// reencodeEnabled sets enabled in the node tree and encodes it again.
func reencodeEnabled(doc, m *yaml.Node, word string) []byte {
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: word}
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "enabled" {
			m.Content[i+1] = val
			found = true
		}
	}
	if !found {
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "enabled"}
		m.Content = append(m.Content, key, val)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil
	}
	if err := enc.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}
