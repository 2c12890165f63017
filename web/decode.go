package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// decodeBody reads r's JSON body into v strictly: the body must be JSON
// (415 otherwise), at most maxBody bytes (413), one value without trailing
// data, and without fields v does not have (400, naming the field). An
// empty body is an error unless optional is set; v is then left alone.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "", "the body is larger than %d bytes", maxBody)
		}
		return errorf(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, "", "the body is empty; want a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		// The header is named: curl -d sends a form's type unless told.
		return errorf(http.StatusUnsupportedMediaType, "", "the body must be JSON sent with the header \"Content-Type: application/json\", not %q", ct)
	}
	return decodeJSON(body, v)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// decodeJSON decodes body into v as decodeBody does.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "", "the body has data after its JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names the field.
func jsonError(err error) error {
	var (
		ae  *apiError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, "", "the body is not valid JSON: %v (at byte %d)", se, se.Offset)
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			return errorf(http.StatusBadRequest, "", "the body must be a JSON object, not %s", ute.Value)
		}
		return errorf(http.StatusBadRequest, field, "%s: want %s, not %s", field, jsonKind(ute.Type.Kind().String()), ute.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "", "the body ends in the middle of its JSON value")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		if f, err := strconv.Unquote(name); err == nil {
			name = f
		}
		return errorf(http.StatusBadRequest, name, "unknown field %q", name)
	}
	return errorf(http.StatusBadRequest, "", "the body is not valid: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return k
}

// query reads the query parameters of a request strictly: each at most
// once, and only known ones.
type query struct {
	v   url.Values
	err *apiError
}

// parseQuery checks that raw has only the parameters known, each once.
func parseQuery(raw string, known ...string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, errorf(http.StatusBadRequest, "", "the query is not valid: %v", err)
	}
	for name, vals := range v {
		ok := false
		for _, k := range known {
			ok = ok || k == name
		}
		if !ok {
			return query{}, errorf(http.StatusBadRequest, name, "unknown query parameter %q (known: %s)", name, strings.Join(known, ", "))
		}
		if len(vals) > 1 {
			return query{}, errorf(http.StatusBadRequest, name, "query parameter %q is given %d times", name, len(vals))
		}
	}
	return query{v: v}, nil
}

func (q *query) str(name string) string { return q.v.Get(name) }

// int reads an integer parameter in [min, max], def when absent.
func (q *query) int(name string, def, min, max int64) int64 {
	s := q.v.Get(name)
	if s == "" || q.err != nil {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		q.err = errorf(http.StatusBadRequest, name, "%s must be a whole number from %d to %d, not %q", name, min, max, s)
		return def
	}
	return n
}

// bool reads a parameter that is true or false; false when absent.
func (q *query) bool(name string) bool {
	s := q.v.Get(name)
	if s == "" || q.err != nil {
		return false
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	q.err = errorf(http.StatusBadRequest, name, "%s must be true or false, not %q", name, s)
	return false
}

// time reads an RFC 3339 time parameter; the zero time when absent.
func (q *query) time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" || q.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.err = errorf(http.StatusBadRequest, name, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", name, s)
		return time.Time{}
	}
	return t
}

// errOrNil returns the first error of the reads, as an error.
func (q *query) errOrNil() error {
	if q.err != nil {
		return q.err
	}
	return nil
}
