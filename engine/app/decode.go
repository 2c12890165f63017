package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cronbox/cronbox/internal/bytesize"
)

// Limits on what a file may make the decoder produce. Aliases are expanded
// at each use, so a small file could otherwise describe an enormous value
// (the "billion laughs" attack).
const (
	// maxNodes is how many YAML nodes decoding one file may visit,
	// counting the nodes behind an alias at each use. A file of 1 MiB
	// without aliases has far fewer.
	maxNodes = 1 << 20
	// maxScalarBytes is how many bytes of scalar text decoding one file
	// may produce, counting aliased text at each use.
	maxScalarBytes = 16 << 20
	// maxDepth is how deeply values may nest.
	maxDepth = 100
	// maxConfigJSON is the size of the largest task config as JSON.
	maxConfigJSON = 1 << 20
)

// position is a place in a YAML file; zero when the value has none (a
// definition that came as JSON).
type position struct{ line, column int }

func positionOf(n *yaml.Node) position { return position{n.Line, n.Column} }

// decoder turns YAML nodes into Go values strictly: unknown fields,
// repeated fields and values of the wrong kind are problems that name the
// field and where it is. Fields are matched by the name in their json tag,
// so one struct describes both the YAML and the JSON form.
//
// One decoder serves one file: its budget of nodes and bytes is shared by
// every value decoded from the file.
type decoder struct {
	file      string
	nodes     int // nodes left to visit
	bytes     int // scalar bytes left to produce
	exhausted bool
	active    map[*yaml.Node]bool // anchored nodes being expanded, to catch an alias inside itself

	// Filled by decode; the caller takes them after each value.
	problems []Problem
	pos      map[string]position // field path → where its value was written
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:   file,
		nodes:  maxNodes,
		bytes:  maxScalarBytes,
		active: make(map[*yaml.Node]bool),
		pos:    make(map[string]position),
	}
}

// take returns the problems and positions recorded since the last take and
// starts afresh.
func (d *decoder) take() ([]Problem, map[string]position) {
	p, pos := d.problems, d.pos
	d.problems, d.pos = nil, make(map[string]position)
	return p, pos
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		File: d.file, Line: n.Line, Column: n.Column, Field: field,
		Message: fmt.Sprintf(format, args...),
	})
}

// spend charges n to the budget and reports whether decoding may go on.
func (d *decoder) spend(n *yaml.Node, field string) bool {
	if d.exhausted {
		return false
	}
	d.nodes--
	d.bytes -= len(n.Value)
	if d.nodes < 0 || d.bytes < 0 {
		d.exhausted = true
		d.errorf(n, field, "the file expands to more than %d values or %s of text; check its aliases (*name)",
			maxNodes, bytesize.Format(maxScalarBytes))
		return false
	}
	return true
}

// parseYAML parses data as a single YAML document and returns its root
// node, or nil for an empty document.
func parseYAML(data []byte, file string) (root *yaml.Node, problem *Problem) {
	defer func() {
		// yaml.v3 reports some malformed input by panicking.
		if r := recover(); r != nil {
			root, problem = nil, &Problem{File: file, Message: fmt.Sprintf("not valid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlProblem(file, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlProblem(file, err)
		}
		return nil, &Problem{File: file, Line: next.Line, Column: next.Column,
			Message: "has more than one YAML document; remove the second ---"}
	}
	if doc.Kind != yaml.DocumentNode {
		return &doc, nil
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlProblem turns a yaml.v3 syntax error ("yaml: line 3: did not find
// expected key") into a Problem with the line number as a field.
func yamlProblem(file string, err error) *Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := &Problem{File: file}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				p.Line, msg = line, text
			}
		}
	}
	p.Message = "not valid YAML: " + msg
	return p
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
	scheduleType   = reflect.TypeFor[ScheduleSpec]()
)

// decode stores the value of n in v, whose type must be built from
// strings, bools, ints, pointers, slices, string-keyed maps, structs with
// json tags, time.Time and json.RawMessage. field is the path of the value
// ("tasks[1].limits"), used in problems.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string, depth int) {
	if _, ok := d.pos[field]; !ok {
		d.pos[field] = positionOf(n)
	}
	if !d.spend(n, field) {
		return
	}
	if depth > maxDepth {
		d.errorf(n, field, "nested more than %d levels deep", maxDepth)
		return
	}
	if n.Kind == yaml.AliasNode {
		target, ok := d.follow(n, field)
		if ok {
			d.decode(target, v, field, depth+1)
			delete(d.active, target)
		}
		return
	}
	if isNull(n) {
		v.SetZero()
		return
	}
	switch v.Type() {
	case rawMessageType:
		var buf bytes.Buffer
		switch ok := d.json(n, &buf, field, depth); {
		case ok:
			v.SetBytes(buf.Bytes())
		case buf.Len() > maxConfigJSON:
			d.errorf(n, field, "is more than %s as JSON", bytesize.Format(maxConfigJSON))
		}
		return
	case timeType:
		d.decodeTime(n, v, field)
		return
	case scheduleType:
		if n.Kind == yaml.ScalarNode {
			// The shorthand schedule: "0 2 * * *".
			v.Set(reflect.ValueOf(ScheduleSpec{Cron: n.Value}))
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), field, depth)
		v.Set(elem)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, field, "want a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n, field, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.errorf(n, field, "want a whole number, got %s", describe(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Slice:
		d.decodeSlice(n, v, field, depth)
	case reflect.Map:
		d.decodeMap(n, v, field, depth)
	case reflect.Struct:
		d.decodeStruct(n, v, field, depth)
	default:
		panic(fmt.Sprintf("app: decoder cannot decode into %s", v.Type()))
	}
}

// follow returns the node alias n refers to and marks it active; the
// caller deletes the mark when done. It refuses an alias inside the node it
// names.
func (d *decoder) follow(n *yaml.Node, field string) (*yaml.Node, bool) {
	target := n.Alias
	if target == nil {
		d.errorf(n, field, "alias *%s names no anchor", n.Value)
		return nil, false
	}
	if d.active[target] {
		d.errorf(n, field, "alias *%s is used inside the value it names", n.Value)
		return nil, false
	}
	d.active[target] = true
	return target, true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind for a problem: `a mapping`, `a list`, or a
// scalar's text, quoted and shortened.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		if n.Alias != nil {
			return describe(n.Alias)
		}
	}
	return quote(n.Value)
}

// quote quotes s for a message, shortened to 40 characters.
func quote(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:37]) + "..."
	}
	return strconv.Quote(s)
}

func (d *decoder) decodeTime(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "want a time such as 2026-12-01T10:00:00Z, got %s", describe(n))
		return
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil {
		d.errorf(n, field, "want a time with a zone offset such as 2026-12-01T10:00:00Z or 2026-12-01T11:00:00+01:00, got %s", quote(n.Value))
		return
	}
	v.Set(reflect.ValueOf(t))
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, field string, depth int) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "want a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", field, i), depth+1)
		if d.exhausted {
			return
		}
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, field string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "want a mapping, got %s", describe(n))
		return
	}
	entries := d.entries(n, field, depth)
	m := reflect.MakeMapWithSize(v.Type(), len(entries))
	for _, e := range entries {
		val := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.value, val, joinField(field, e.key), depth+1)
		if d.exhausted {
			return
		}
		m.SetMapIndex(reflect.ValueOf(e.key), val)
	}
	v.Set(m)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, field string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "want a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	for _, e := range d.entries(n, field, depth) {
		i, ok := fields[e.key]
		if !ok {
			d.errorf(e.keyNode, field, "unknown field %s%s", quote(e.key), suggest(e.key, fields))
			continue
		}
		d.decode(e.value, v.Field(i), joinField(field, e.key), depth+1)
		if d.exhausted {
			return
		}
	}
}

// fieldsByType holds structFields' maps, by type: the decoder's struct
// types are few and fixed, and their fields were looked up for every task
// of every load. The maps are never changed once stored.
var fieldsByType sync.Map // reflect.Type → map[string]int

// structFields maps the json names of t's fields to their indexes.
func structFields(t reflect.Type) map[string]int {
	if m, ok := fieldsByType.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	fieldsByType.Store(t, m)
	return m
}

// suggest returns `; did you mean "x"?` for the known field closest to key
// (within two edits, or differing only in case), or the list of known
// fields.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	best, bestDist := "", 3
	for _, name := range names {
		if strings.EqualFold(name, key) {
			best, bestDist = name, 0
			break
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; known fields: " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func joinField(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// entry is one key and value of a mapping.
type entry struct {
	key     string
	keyNode *yaml.Node
	value   *yaml.Node
}

// entries returns the entries of mapping n with merge keys (<<: *base)
// applied: a key written in n wins over a merged one, and of several merged
// mappings the earlier wins. A key written twice is a problem.
func (d *decoder) entries(n *yaml.Node, field string, depth int) []entry {
	var own, merged []entry
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.spend(k, field) {
			return nil
		}
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, field, "want a plain key, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(val, field, depth+1)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, field, "%s is given twice (first on line %d)", quote(k.Value), first.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, entry{k.Value, k, val})
	}
	for _, e := range merged {
		if _, ok := seen[e.key]; !ok {
			seen[e.key] = e.keyNode
			own = append(own, e)
		}
	}
	return own
}

// merge returns the entries that the value of a merge key brings in: a
// mapping, or a list of mappings, usually given by alias.
func (d *decoder) merge(n *yaml.Node, field string, depth int) []entry {
	if !d.spend(n, field) {
		return nil
	}
	if depth > maxDepth {
		d.errorf(n, field, "nested more than %d levels deep", maxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		target, ok := d.follow(n, field)
		if !ok {
			return nil
		}
		defer delete(d.active, target)
		return d.merge(target, field, depth+1)
	case yaml.MappingNode:
		return d.entries(n, field, depth)
	case yaml.SequenceNode:
		var out []entry
		seen := make(map[string]bool)
		for _, item := range n.Content {
			if item.Kind == yaml.SequenceNode {
				d.errorf(item, field, "want a mapping to merge (<<), got a list")
				continue
			}
			for _, e := range d.merge(item, field, depth+1) {
				if !seen[e.key] {
					seen[e.key] = true
					out = append(out, e)
				}
			}
		}
		return out
	}
	d.errorf(n, field, "want a mapping to merge (<<), got %s", describe(n))
	return nil
}

// json writes n as JSON to buf and reports whether it could: mapping keys
// must be scalars and numbers finite. Past maxConfigJSON bytes it stops
// and returns false without a problem, which its first caller reports.
// Numbers that are valid JSON are written as given.
func (d *decoder) json(n *yaml.Node, buf *bytes.Buffer, field string, depth int) bool {
	if !d.spend(n, field) {
		return false
	}
	if depth > maxDepth {
		d.errorf(n, field, "nested more than %d levels deep", maxDepth)
		return false
	}
	if buf.Len() > maxConfigJSON {
		return false // reported by the caller of the outermost json
	}
	switch n.Kind {
	case yaml.AliasNode:
		target, ok := d.follow(n, field)
		if !ok {
			return false
		}
		defer delete(d.active, target)
		return d.json(target, buf, field, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i, e := range d.entries(n, field, depth) {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, e.key)
			buf.WriteByte(':')
			if !d.json(e.value, buf, joinField(field, e.key), depth+1) {
				return false
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if !d.json(item, buf, fmt.Sprintf("%s[%d]", field, i), depth+1) {
				return false
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return d.jsonScalar(n, buf, field)
	default:
		d.errorf(n, field, "cannot be written as JSON")
		return false
	}
	return !d.exhausted
}

func (d *decoder) jsonScalar(n *yaml.Node, buf *bytes.Buffer, field string) bool {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if n.Decode(&b) != nil {
			d.errorf(n, field, "%s is not true or false", quote(n.Value))
			return false
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			buf.WriteString(n.Value)
			return true
		}
		var v any
		if err := n.Decode(&v); err != nil {
			d.errorf(n, field, "%s is not a number", quote(n.Value))
			return false
		}
		b, err := json.Marshal(v)
		if err != nil {
			d.errorf(n, field, "%s cannot be written as a JSON number", quote(n.Value))
			return false
		}
		buf.Write(b)
	default:
		writeJSONString(buf, n.Value)
	}
	return true
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// jsonToNode converts a JSON document into a YAML node tree, so that JSON
// input goes through the same strict decoder as YAML. Keys keep their
// order, and repeated keys are kept for the decoder to report.
func jsonToNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return n, nil
}

func jsonValue(dec *json.Decoder, depth int) (*yaml.Node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if t == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				key, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("not valid JSON: %w", err)
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key.(string)})
			}
			v, err := jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		return n, nil
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(t), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	default: // nil
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
}
