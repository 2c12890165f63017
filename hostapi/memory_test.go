package hostapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// onePageModule is a minimal module, assembled by hand, that exports one
// page (64 KiB) of memory as "memory" and nothing else.
const onePageModule = "\x00asm\x01\x00\x00\x00" + // magic, version 1
	"\x05\x04\x01\x01\x01\x01" + // memory section: one memory, min 1 page, max 1 page
	"\x07\x0a\x01\x06memory\x02\x00" // export section: "memory" is memory 0

// noMemoryModule is the empty module: it has no memory at all.
const noMemoryModule = "\x00asm\x01\x00\x00\x00"

const pageSize = 1 << 16

// newModule instantiates wasm in a runtime of its own.
func newModule(t testing.TB, wasm string) api.Module {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, []byte(wasm))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// invoke calls the host function name as a guest would, with the caller
// mod and the context ctx.
func invoke(t testing.TB, ctx context.Context, mod api.Module, name string, args ...uint32) Errno {
	t.Helper()
	i := slices.IndexFunc(functions(), func(f function) bool { return f.name == name })
	if i < 0 {
		t.Fatalf("no host function %q", name)
	}
	f := functions()[i]
	if len(args) != len(f.params) {
		t.Fatalf("%s takes %d arguments, got %d", name, len(f.params), len(args))
	}
	stack := make([]uint64, len(f.params))
	for i, a := range args {
		stack[i] = api.EncodeU32(a)
	}
	f.goModuleFunc()(ctx, mod, stack)
	return Errno(api.DecodeU32(stack[0]))
}

func TestMemoryEdges(t *testing.T) {
	t.Parallel()
	const end = pageSize
	tests := []struct {
		name string
		fn   string
		args []uint32
		want Errno
	}{
		{"output ends at the end", "input_get", []uint32{end - 5, 5, 0}, OK},
		{"output one past the end", "input_get", []uint32{end - 4, 5, 0}, EFAULT},
		{"output wraps around", "input_get", []uint32{0xFFFFFFFC, 8, 0}, EFAULT},
		{"empty output, wild pointer", "input_get", []uint32{0xFFFFFFFF, 0, 0}, ERANGE},
		{"len_ptr at the last word", "input_get", []uint32{0, 5, end - 4}, OK},
		{"len_ptr crosses the end", "input_get", []uint32{0, 5, end - 3}, EFAULT},
		{"len_ptr past the end", "input_get", []uint32{0, 5, end}, EFAULT},
		{"len_ptr wraps around", "input_get", []uint32{0, 5, 0xFFFFFFFE}, EFAULT},
		{"message at the last byte", "log", []uint32{1, end - 1, 1}, OK},
		{"message crosses the end", "log", []uint32{1, end - 1, 2}, EFAULT},
		{"message wraps around", "log", []uint32{1, 0xFFFFFFF0, 0x20}, EFAULT},
		{"message at the top", "log", []uint32{1, 0xFFFFFFFF, 1}, EFAULT},
		{"empty message, wild pointer", "log", []uint32{1, 0xFFFFFFFF, 0}, OK},
		{"huge message", "log", []uint32{1, 0, 0xFFFFFFFF}, EFAULT},
		{"key crosses the end", "kv_set", []uint32{end - 1, 2, 0, 1}, EFAULT},
		{"value wraps around", "kv_set", []uint32{0, 1, 0xFFFFFFFF, 2}, EFAULT},
		{"list output past the end", "kv_list", []uint32{0, 0, 0, 0, end, 1, 0}, EFAULT},
		{"handle pointer crosses the end", "http_request", []uint32{0, 1, 0, 0, end - 2}, EFAULT},
		{"body output wraps around", "http_response_body", []uint32{1, 0, 0xFFFFFFFF, 2, 0}, EFAULT},
		{"meta len_ptr crosses the end", "http_response_meta", []uint32{1, 0, 0, end - 1}, EFAULT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mod := newModule(t, onePageModule)
			call := &Call{Input: []byte(`"abc"`), KV: NewMemoryKV(), HTTP: &HTTP{}}
			if got := invoke(t, WithCall(context.Background(), call), mod, tt.fn, tt.args...); got != tt.want {
				t.Errorf("%s%v = %v, want %v (last error %q)", tt.fn, tt.args, got, tt.want, call.LastError())
			}
		})
	}
	t.Run("written at the end", func(t *testing.T) {
		t.Parallel()
		mod := newModule(t, onePageModule)
		ctx := WithCall(context.Background(), &Call{Input: []byte(`"abc"`)})
		if e := invoke(t, ctx, mod, "input_get", end-5, 5, end-12); e != OK {
			t.Fatal(e)
		}
		got, _ := mod.Memory().Read(end-5, 5)
		n, _ := mod.Memory().ReadUint32Le(end - 12)
		if string(got) != `"abc"` || n != 5 {
			t.Errorf("memory holds %q, length %d", got, n)
		}
	})
}

func TestNoMemory(t *testing.T) {
	t.Parallel()
	mod := newModule(t, noMemoryModule)
	ctx := WithCall(context.Background(), &Call{KV: NewMemoryKV()})
	tests := []struct {
		fn   string
		args []uint32
		want Errno
	}{
		{"log", []uint32{1, 0, 0}, OK},
		{"log", []uint32{1, 0, 1}, EFAULT},
		{"progress", []uint32{7, 0, 0}, OK},
		{"result_set", []uint32{0, 0}, EINVAL},
		{"input_get", []uint32{0, 0, 0}, EFAULT},
		{"kv_delete", []uint32{0, 0}, EINVAL},
		{"http_response_close", []uint32{1}, EBADHANDLE},
	}
	for _, tt := range tests {
		if got := invoke(t, ctx, mod, tt.fn, tt.args...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.fn, tt.args, got, tt.want)
		}
	}
}

// TestNoCall checks that a context without a Call gets no permissions,
// null input, {} config and nothing kept between calls.
func TestNoCall(t *testing.T) {
	t.Parallel()
	mod := newModule(t, onePageModule)
	ctx := context.Background()
	mem := mod.Memory()
	mem.WriteString(100, `{"url":"http://example.com/"}`)
	tests := []struct {
		fn   string
		args []uint32
		want Errno
	}{
		{"input_get", []uint32{0, 16, 20}, OK},
		{"config_get", []uint32{30, 16, 50}, OK},
		{"kv_get", []uint32{100, 3, 0, 16, 20}, EDENIED},
		{"http_request", []uint32{100, 29, 0, 0, 20}, EDENIED},
		{"last_error", []uint32{0, 16, 20}, ENOTFOUND},
		{"result_set", []uint32{0, 4}, OK},
		{"log", []uint32{1, 0, 4}, OK},
	}
	for _, tt := range tests {
		if got := invoke(t, ctx, mod, tt.fn, tt.args...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.fn, tt.args, got, tt.want)
		}
	}
	input, _ := mem.Read(0, 4)
	config, _ := mem.Read(30, 2)
	if string(input) != "null" || string(config) != "{}" {
		t.Errorf("input %q, config %q; want null and {}", input, config)
	}
}

func TestInstantiate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	if err := Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	exported := r.Module(ModuleName).ExportedFunctionDefinitions()
	if len(exported) != len(Functions()) {
		t.Errorf("the module exports %d functions, Functions lists %d", len(exported), len(Functions()))
	}
	for _, name := range Functions() {
		def, ok := exported[name]
		if !ok {
			t.Errorf("%s is not exported", name)
			continue
		}
		for _, vt := range append(def.ParamTypes(), def.ResultTypes()...) {
			if vt != api.ValueTypeI32 {
				t.Errorf("%s has a %s parameter or result", name, api.ValueTypeName(vt))
			}
		}
		if len(def.ResultTypes()) != 1 {
			t.Errorf("%s has %d results", name, len(def.ResultTypes()))
		}
	}
	if err := Instantiate(ctx, r); err == nil || !strings.Contains(err.Error(), ModuleName) {
		t.Errorf("a second Instantiate = %v, want an error naming the module", err)
	}
}

// TestFunctionsMatchABI checks the functions against their headings in
// ABI.md: same names, same parameters, same order.
func TestFunctionsMatchABI(t *testing.T) {
	t.Parallel()
	f, err := os.Open("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	heading := regexp.MustCompile("^### `([a-z_]+)\\(([a-z_, ]*)\\) -> (i32|errno)`$")
	var documented []string
	params := map[string]string{}
	for s := bufio.NewScanner(f); s.Scan(); {
		if m := heading.FindStringSubmatch(s.Text()); m != nil {
			documented = append(documented, m[1])
			params[m[1]] = m[2]
		}
	}
	if !slices.Equal(documented, Functions()) {
		t.Errorf("ABI.md documents %q\nFunctions() = %q", documented, Functions())
	}
	for _, fn := range functions() {
		if got := strings.Join(fn.params, ", "); got != params[fn.name] {
			t.Errorf("%s(%s), ABI.md says %s(%s)", fn.name, got, fn.name, params[fn.name])
		}
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		max  int
		cut  bool
		want string
	}{
		{"short", "hello", 10, false, "hello"},
		{"exact", "hello", 5, false, "hello"},
		{"invalid UTF-8", "a\xff\xfeb", 10, false, "a\uFFFDb"},
		{"prefix", "hello", 5, true, "hello …[truncated]"},
		{"split rune", "ab\xc3", 3, true, "ab …[truncated]"},
		{"split 4-byte rune", "a\xf0\x9f\x98", 4, true, "a …[truncated]"},
		{"whole rune at the cut", "aé", 3, true, "aé …[truncated]"},
		{"replacement grows", "\xff\xff\xff", 3, false, "\uFFFD"},
		{"replacements over the limit", "\xffa\xffa", 4, false, "\uFFFDa …[truncated]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := message([]byte(tt.in), tt.max, tt.cut); got != tt.want {
				t.Errorf("message(%q, %d, %v) = %q, want %q", tt.in, tt.max, tt.cut, got, tt.want)
			}
		})
	}
}

// documentedErrnos lists, per function, the errnos ABI.md allows it.
func documentedErrnos() map[string][]Errno {
	out := []Errno{OK, EFAULT, ERANGE}
	kv := []Errno{OK, EFAULT, EDENIED, EINVAL, ETOOLARGE, EIO, ECANCELED}
	return map[string][]Errno{
		"last_error":          append(out, ENOTFOUND),
		"log":                 {OK, EFAULT, EINVAL},
		"progress":            {OK, EFAULT, EINVAL},
		"result_set":          {OK, EFAULT, EINVAL, ETOOLARGE},
		"input_get":           out,
		"config_get":          out,
		"kv_get":              append(kv, ERANGE, ENOTFOUND),
		"kv_set":              kv,
		"kv_delete":           kv,
		"kv_list":             append(kv, ERANGE),
		"http_request":        {OK, EFAULT, EDENIED, EINVAL, ETOOLARGE, EIO, ECANCELED, ELIMIT, ETIMEDOUT},
		"http_response_meta":  {OK, EFAULT, ERANGE, EBADHANDLE},
		"http_response_body":  {OK, EFAULT, EBADHANDLE},
		"http_response_close": {OK, EBADHANDLE},
	}
}

// cannedTransport answers every request without a network: /redirect
// redirects to a host outside the fuzz policy, anything else is 200 with
// a body that names the path.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	resp := &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/plain"}},
		Body:       io.NopCloser(strings.NewReader("you asked for " + req.URL.Path)),
		Request:    req,
	}
	if req.URL.Path == "/redirect" {
		resp.StatusCode = http.StatusFound
		resp.Header.Set("Location", "http://elsewhere.example/")
	}
	return resp, nil
}

// checkingSink fails the fuzz test on a message the ABI does not allow.
type checkingSink struct {
	t   *testing.T
	max int
}

func (s checkingSink) Log(level Level, msg string) {
	if !level.valid() {
		s.t.Fatalf("Log got level %d", level)
	}
	s.check(msg)
}

func (s checkingSink) Progress(percent int, msg string) {
	if percent < 0 || percent > 100 {
		s.t.Fatalf("Progress got %d%%", percent)
	}
	s.check(msg)
}

func (s checkingSink) check(msg string) {
	if !utf8.ValidString(msg) || len(msg) > s.max+len(truncatedMark) {
		s.t.Fatalf("sink got %d bytes %q", len(msg), msg)
	}
}

// FuzzGuestMemory runs sequences of host calls with fuzzed memory and
// arguments. ops is a sequence of calls: a byte choosing the function,
// then a little-endian u32 per parameter. The host must never panic and
// must return only the errnos ABI.md documents for each function.
func FuzzGuestMemory(f *testing.F) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { r.Close(ctx) })
	compiled, err := r.CompileModule(ctx, []byte(onePageModule))
	if err != nil {
		f.Fatal(err)
	}
	table := functions()
	allowed := documentedErrnos()
	f.Fuzz(func(t *testing.T, mem, ops []byte) {
		mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		mod.Memory().Write(0, mem[:min(len(mem), pageSize)])
		kv := NewMemoryKV()
		for _, k := range []string{"a", "a/1", "b"} {
			if err := kv.Set(ctx, k, []byte("value of "+k)); err != nil {
				t.Fatal(err)
			}
		}
		call := &Call{
			Input:  []byte(`{"n":1}`),
			KV:     kv,
			HTTP:   &HTTP{Allow: []string{"example.com", "*.example.org"}, Transport: cannedTransport{}, MaxResponseBody: 16},
			Sink:   checkingSink{t: t, max: 32},
			Limits: Limits{MaxMessage: 32, MaxResult: 64, MaxKey: 16, MaxValue: 64, MaxOpenResponses: 2},
		}
		defer call.Close()
		cctx := WithCall(ctx, call)
		for calls := 0; len(ops) > 0 && calls < 64; calls++ {
			fn := table[int(ops[0])%len(table)]
			ops = ops[1:]
			stack := make([]uint64, len(fn.params))
			for i := range stack {
				if len(ops) >= 4 {
					stack[i] = uint64(binary.LittleEndian.Uint32(ops))
					ops = ops[4:]
				}
			}
			args := slices.Clone(stack)
			fn.goModuleFunc()(cctx, mod, stack)
			e := Errno(api.DecodeU32(stack[0]))
			if !slices.Contains(allowed[fn.name], e) {
				t.Fatalf("%s%v = %v, which ABI.md does not list (last error %q)", fn.name, args, e, call.LastError())
			}
			if e != OK && e != ENOTFOUND && fn.name != "last_error" && call.LastError() == "" {
				t.Fatalf("%s%v = %v without a last error", fn.name, args, e)
			}
			if e == ERANGE {
				// The need is at len_ptr and exceeds out_cap.
				outCap, lenPtr := uint32(args[len(args)-2]), uint32(args[len(args)-1])
				need, ok := mod.Memory().ReadUint32Le(lenPtr)
				if !ok || need <= outCap {
					t.Fatalf("%s%v = ERANGE with need %d (%v)", fn.name, args, need, ok)
				}
			}
		}
	})
}
