package hostapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cronbox/cronbox/internal/hold"
)

// function is one host function of the module: its ABI name, the area that
// prefixes its error messages, its parameter names (all i32) and its body.
type function struct {
	name   string
	area   string
	params []string
	impl   func(in *invocation, p []uint64) Errno
}

// functions returns the module's functions in ABI.md order, except
// abi_version, which returns a version rather than an errno.
func functions() []function {
	out := []string{"out_ptr", "out_cap", "len_ptr"}
	return []function{
		{"last_error", "last_error", out, lastError},
		{"log", "log", []string{"level", "msg_ptr", "msg_len"}, logLine},
		{"progress", "progress", []string{"percent", "msg_ptr", "msg_len"}, progress},
		{"result_set", "result", []string{"ptr", "len"}, resultSet},
		{"input_get", "input", out, inputGet},
		{"config_get", "config", out, configGet},
		{"kv_get", "kv", append([]string{"key_ptr", "key_len"}, out...), kvGet},
		{"kv_set", "kv", []string{"key_ptr", "key_len", "val_ptr", "val_len"}, kvSet},
		{"kv_delete", "kv", []string{"key_ptr", "key_len"}, kvDelete},
		{"kv_list", "kv", append([]string{"prefix_ptr", "prefix_len", "after_ptr", "after_len"}, out...), kvList},
		{"http_request", "http", []string{"req_ptr", "req_len", "body_ptr", "body_len", "handle_ptr"}, httpRequest},
		{"http_response_meta", "http", append([]string{"handle"}, out...), httpResponseMeta},
		{"http_response_body", "http", append([]string{"handle", "offset"}, out...), httpResponseBody},
		{"http_response_close", "http", []string{"handle"}, httpResponseClose},
		{"request_get", "request", out, requestGet},
		{"request_body", "request", append([]string{"offset"}, out...), requestBody},
		{"response_set", "response", []string{"meta_ptr", "meta_len", "body_ptr", "body_len"}, responseSet},
	}
}

const abiVersionName = "abi_version"

// Functions returns the names of the functions the host module exports,
// for checking a module's imports before it is run.
func Functions() []string {
	names := []string{abiVersionName}
	for _, f := range functions() {
		names = append(names, f.name)
	}
	return names
}

// goModuleFunc adapts f to wazero: it finds the run's Call in the context
// and returns f's errno on the stack. In a run started ahead of its work
// (runtime.Hold), every function may have an effect or read the request,
// and so waits for the run's release first: ECANCELED if the run ends
// instead.
func (f function) goModuleFunc() api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		if !hold.Pass(ctx) {
			stack[0] = api.EncodeU32(uint32(ECANCELED))
			return
		}
		c := CallFrom(ctx)
		if c == nil {
			c = new(Call) // no permissions, null input, logs dropped
		}
		in := invocation{ctx: ctx, call: c, mem: memoryOf(mod), area: f.area}
		stack[0] = api.EncodeU32(uint32(f.impl(&in, stack)))
	}
}

// Instantiate defines the host module "cronbox" in r. Call it once per
// runtime, before instantiating guests. Every function finds its run's
// Call in the context of the guest's call (see WithCall); without one it
// behaves as a Call with no permissions, null input and dropped logs, and
// keeps nothing between calls.
func Instantiate(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ModuleName)
	b.NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) {
			stack[0] = api.EncodeU32(Version)
		}), nil, []api.ValueType{api.ValueTypeI32}).
		WithResultNames("version").
		Export(abiVersionName)
	for _, f := range functions() {
		params := make([]api.ValueType, len(f.params))
		for i := range params {
			params[i] = api.ValueTypeI32
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.goModuleFunc(), params, []api.ValueType{api.ValueTypeI32}).
			WithParameterNames(f.params...).
			WithResultNames("errno").
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiating host module %q: %w", ModuleName, err)
	}
	return nil
}

func lastError(in *invocation, p []uint64) Errno {
	in.quiet = true
	outPtr, outCap, lenPtr := api.DecodeU32(p[0]), api.DecodeU32(p[1]), api.DecodeU32(p[2])
	if e := in.checkOut(outPtr, outCap, lenPtr); e != OK {
		return e
	}
	msg := in.call.LastError()
	if msg == "" {
		return ENOTFOUND
	}
	return in.write(outPtr, outCap, lenPtr, []byte(msg))
}

// readMessage reads a log or progress message, keeping at most the run's
// message limit of it. The bytes are held for the run until done is called.
func (in *invocation) readMessage(ptr, n uint32) (msg string, done func(), e Errno) {
	limit := in.call.Limits.maxMessage()
	if !in.inRange(ptr, n) {
		return "", nil, in.fault("message", ptr, n)
	}
	// The copy of the guest's bytes and the message made of them.
	held := 2 * int64(min(uint64(n), uint64(limit)))
	if e := in.hold("a message", held); e != OK {
		return "", nil, e
	}
	b, e := in.readPrefix("message", ptr, n, limit)
	if e != OK {
		in.call.release(held)
		return "", nil, e
	}
	msg = message(b, limit, uint64(n) > uint64(limit))
	return msg, func() { in.call.release(held) }, OK
}

func logLine(in *invocation, p []uint64) Errno {
	level := Level(api.DecodeI32(p[0]))
	msg, done, e := in.readMessage(api.DecodeU32(p[1]), api.DecodeU32(p[2]))
	if e != OK {
		return e
	}
	defer done()
	if !level.valid() {
		return in.fail(EINVAL, "unknown level %d (want 0 debug, 1 info, 2 warn or 3 error)", int(level))
	}
	in.meterLog(msg)
	if in.call.Sink != nil {
		in.call.Sink.Log(level, msg)
	}
	return OK
}

func progress(in *invocation, p []uint64) Errno {
	percent := api.DecodeI32(p[0])
	msg, done, e := in.readMessage(api.DecodeU32(p[1]), api.DecodeU32(p[2]))
	if e != OK {
		return e
	}
	defer done()
	if percent < 0 || percent > 100 {
		return in.fail(EINVAL, "percent %d is outside 0..100", percent)
	}
	in.meterLog(msg)
	if in.call.Sink != nil {
		in.call.Sink.Progress(int(percent), msg)
	}
	return OK
}

// meterLog meters a message handed to the Sink.
func (in *invocation) meterLog(msg string) {
	if a := in.call.Account; a != nil {
		a.AddLog(int64(len(msg)))
	}
}

func resultSet(in *invocation, p []uint64) Errno {
	ptr, n := api.DecodeU32(p[0]), api.DecodeU32(p[1])
	if !in.inRange(ptr, n) {
		return in.fault("payload", ptr, n)
	}
	if limit := in.call.Limits.maxResult(); uint64(n) > uint64(limit) {
		return in.fail(ETOOLARGE, "payload of %d bytes exceeds the limit of %d bytes", n, limit)
	}
	// Held until the run ends or the guest replaces it.
	if e := in.hold("the result payload", int64(n)); e != OK {
		return e
	}
	b, e := in.read("payload", ptr, n)
	if e != OK {
		in.call.release(int64(n))
		return e
	}
	if !json.Valid(b) {
		in.call.release(int64(n))
		err := json.Unmarshal(b, new(json.RawMessage)) // for the reason
		return in.fail(EINVAL, "payload is not valid JSON: %v", err)
	}
	in.call.setResult(b)
	return OK
}

func inputGet(in *invocation, p []uint64) Errno {
	return in.write(api.DecodeU32(p[0]), api.DecodeU32(p[1]), api.DecodeU32(p[2]), in.call.input())
}

func configGet(in *invocation, p []uint64) Errno {
	return in.write(api.DecodeU32(p[0]), api.DecodeU32(p[1]), api.DecodeU32(p[2]), in.call.config())
}
