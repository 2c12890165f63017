package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Buffer sizes of the ERANGE protocol: the first call gets a buffer of
// initialBuffer bytes, and a retry one of the size the host asks for, at most
// maxAttempts times and never more than maxBuffer bytes.
const (
	initialBuffer = 4 << 10
	maxBuffer     = 64 << 20
	maxAttempts   = 8
)

// fetch returns the variable-sized data of the ABI function op, which call
// invokes with an output buffer; it returns the length written or, with
// ErrRange, the length needed.
func fetch(op string, call func(out []byte) (uint32, Errno)) ([]byte, error) {
	b, err := fetchRaw(op, call)
	if code, ok := err.(Errno); ok {
		return nil, callError(op, code)
	}
	return b, err
}

// fetchRaw is fetch without asking the host why a call failed: the error of
// a failed call is its bare Errno.
func fetchRaw(op string, call func(out []byte) (uint32, Errno)) ([]byte, error) {
	buf := make([]byte, initialBuffer)
	for range maxAttempts {
		n, code := call(buf)
		if code != 0 && code != ErrRange {
			return nil, code
		}
		fits := uint64(n) <= uint64(len(buf))
		switch {
		case code == 0 && fits:
			return buf[:n], nil
		case code == 0 || fits:
			return nil, &CallError{Op: op, Code: ErrRange,
				Message: fmt.Sprintf("the host reported %d bytes for a buffer of %d", n, len(buf))}
		case n > maxBuffer:
			return nil, &CallError{Op: op, Code: ErrRange,
				Message: fmt.Sprintf("%d bytes exceed the SDK's limit of %d", n, maxBuffer)}
		}
		buf = make([]byte, n)
	}
	return nil, &CallError{Op: op, Code: ErrRange,
		Message: fmt.Sprintf("the data kept growing past %d bytes", len(buf))}
}

// ABIVersion returns the version of the host ABI, 1 for the ABI this SDK
// implements.
func ABIVersion() int { return int(hostABIVersion()) }

// Progress reports how far the run has come: percent from 0 to 100, and an
// optional message ("" for none). Messages longer than 64 KiB are
// truncated.
func Progress(percent int, msg string) error {
	if percent < 0 || percent > 100 {
		return &CallError{Op: "progress", Code: ErrInvalid,
			Message: fmt.Sprintf("percent %d is outside 0..100", percent)}
	}
	return check("progress", hostProgress(int32(percent), msg))
}

// InputRaw returns the run's input: the JSON value the run was triggered
// with, or null when it was triggered without one.
func InputRaw() ([]byte, error) { return fetch("input_get", hostInputGet) }

// Input decodes the run's input into v, as json.Unmarshal does. When the
// input is null, v is left unchanged, so defaults set in v before the call
// survive a run triggered without input.
func Input(v any) error {
	b, err := InputRaw()
	if err != nil {
		return err
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding input: %w", err)
	}
	return nil
}

// ConfigRaw returns the task's configuration, the config map of its entry in
// config/tasks.yaml, as a JSON object ({} when it has none).
func ConfigRaw() ([]byte, error) { return fetch("config_get", hostConfigGet) }

// Config decodes the task's configuration into v, as json.Unmarshal does.
func Config(v any) error {
	b, err := ConfigRaw()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding config: %w", err)
	}
	return nil
}

// SetResult sets the run's result payload to v encoded as JSON, as
// json.Marshal does. The payload is at most 1 MiB; a later call replaces an
// earlier one.
func SetResult(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	return SetResultRaw(b)
}

// SetResultRaw sets the run's result payload to b, which must be a single
// JSON value of at most 1 MiB; otherwise the error is [ErrInvalid] or
// [ErrTooLarge].
func SetResultRaw(b []byte) error { return check("result_set", hostResultSet(b)) }
