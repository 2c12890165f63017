package sdk

import (
	"errors"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The request and response metadata of a route's run are JSON (ABI.md,
// request_get and response_set). A handler's run reads one and writes one,
// each in a fresh instance, where encoding/json would first build its
// reflection caches for the types: decoding and encoding them by hand
// keeps that cost out of every request.

// errMeta is the error of malformed request metadata.
var errMeta = errors.New("malformed JSON")

// decodeRequestMeta decodes request_get's JSON: an object of method, path,
// query, headers (an object of arrays of strings) and body_size. Other
// fields are skipped, and null leaves a field empty, as encoding/json
// does; names are matched exactly.
func decodeRequestMeta(b []byte) (requestMeta, error) {
	var m requestMeta
	d := jsonDecoder{b: b}
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "method":
			m.Method, err = d.stringOrNull()
		case "path":
			m.Path, err = d.stringOrNull()
		case "query":
			m.Query, err = d.stringOrNull()
		case "headers":
			m.Header, err = d.header()
		case "body_size":
			m.BodySize, err = d.integer()
		default:
			err = d.skip()
		}
		return err
	})
	if err == nil {
		d.space()
		if d.i != len(d.b) {
			err = d.fail("after the object")
		}
	}
	return m, err
}

// appendResponseMeta appends response_set's JSON for status and h.
func appendResponseMeta(b []byte, status int, h Header) []byte {
	b = append(b, '{')
	if status != 0 {
		b = append(b, `"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
	}
	if len(h) > 0 {
		if status != 0 {
			b = append(b, ',')
		}
		b = append(b, `"headers":{`...)
		// In encoding/json's order, so that names it would make equal
		// (not UTF-8) end the same way.
		names := make([]string, 0, len(h))
		for name := range h {
			names = append(names, name)
		}
		slices.Sort(names)
		for i, name := range names {
			values := h[name]
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
			b = append(b, ':')
			if values == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for i, v := range values {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, v)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD, as encoding/json makes them.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// jsonDecoder reads JSON from b at i.
type jsonDecoder struct {
	b []byte
	i int
}

func (d *jsonDecoder) fail(what string) error {
	return errors.Join(errMeta, errors.New(what+" at offset "+strconv.Itoa(d.i)))
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (d *jsonDecoder) peek() byte {
	d.space()
	if d.i == len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// literal reads word (true, false, null).
func (d *jsonDecoder) literal(word string) error {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return d.fail("expected " + word)
	}
	d.i += len(word)
	return nil
}

// null reads a null if one is next.
func (d *jsonDecoder) null() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.literal("null")
}

// object reads an object, calling field for each name with the decoder at
// its value, which field must read.
func (d *jsonDecoder) object(field func(name string) error) error {
	if d.peek() != '{' {
		return d.fail("expected an object")
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.fail("expected a field name")
		}
		name, err := d.string()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.fail("expected ':'")
		}
		d.i++
		if err := field(name); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.fail("expected ',' or '}'")
		}
	}
}

// array reads an array, calling elem with the decoder at each element.
func (d *jsonDecoder) array(elem func() error) error {
	if d.peek() != '[' {
		return d.fail("expected an array")
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.fail("expected ',' or ']'")
		}
	}
}

func (d *jsonDecoder) stringOrNull() (string, error) {
	if null, err := d.null(); null || err != nil {
		return "", err
	}
	if d.peek() != '"' {
		return "", d.fail("expected a string")
	}
	return d.string()
}

// header reads an object of arrays of strings, or null.
func (d *jsonDecoder) header() (Header, error) {
	if null, err := d.null(); null || err != nil {
		return nil, err
	}
	h := Header{}
	err := d.object(func(name string) error {
		if null, err := d.null(); null || err != nil {
			h[name] = nil
			return err
		}
		var values []string
		err := d.array(func() error {
			v, err := d.stringOrNull()
			values = append(values, v)
			return err
		})
		if values == nil && err == nil {
			values = []string{}
		}
		h[name] = values
		return err
	})
	return h, err
}

// integer reads a number that is an int, or null (0).
func (d *jsonDecoder) integer() (int, error) {
	if null, err := d.null(); null || err != nil {
		return 0, err
	}
	start := d.i
	if err := d.number(); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(d.b[start:d.i]))
	if err != nil {
		return 0, d.fail("expected an integer")
	}
	return n, nil
}

// number reads a JSON number.
func (d *jsonDecoder) number() error {
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	start := d.i
	if n := digits(); n == 0 || (n > 1 && d.b[start] == '0') {
		return d.fail("malformed number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return d.fail("malformed number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return d.fail("malformed number")
		}
	}
	return nil
}

// skip reads any value.
func (d *jsonDecoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		return d.object(func(string) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '"':
		_, err := d.string()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return d.fail("expected a value")
}

// string reads a string, at its opening quote. Bytes that are not UTF-8,
// and escaped surrogates that do not pair, become U+FFFD, as encoding/json
// makes them.
func (d *jsonDecoder) string() (string, error) {
	d.i++ // the quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), nil
		case c < 0x20:
			return "", d.fail("control character in a string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, d.b[d.i:d.i+size]...)
			}
			d.i += size
		case c != '\\':
			out = append(out, c)
			d.i++
		default:
			r, err := d.escape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		}
	}
	return "", d.fail("unterminated string")
}

// escape reads an escape sequence of a string, at its backslash.
func (d *jsonDecoder) escape() (rune, error) {
	if d.i+1 >= len(d.b) {
		return 0, d.fail("unterminated string")
	}
	c := d.b[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := d.hex4()
		if !ok {
			return 0, d.fail("malformed \\u escape")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A high surrogate pairs with a \u low one that follows.
		if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
			save := d.i
			d.i += 2
			if r2, ok := d.hex4(); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					return dec, nil
				}
			}
			d.i = save
		}
		return utf8.RuneError, nil
	}
	return 0, d.fail("malformed escape")
}

// hex4 reads four hex digits.
func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		v, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	d.i += 4
	return r, true
}
