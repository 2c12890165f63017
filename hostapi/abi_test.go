package hostapi_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cronbox/cronbox/hostapi"
	"github.com/cronbox/cronbox/internal/wasmtest"
	"github.com/cronbox/cronbox/runtime"
)

// readABI returns the text of ABI.md.
func readABI(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSignatureTableMatchesModule checks ABI.md's signature table against
// the host module itself: every function it exports, in order, with the
// names and types of its parameters and result, and nothing else.
func TestSignatureTableMatchesModule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if err := hostapi.Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	defs := r.Module(hostapi.ModuleName).ExportedFunctionDefinitions()
	var want []string
	for _, name := range hostapi.Functions() {
		def, ok := defs[name]
		if !ok {
			t.Fatalf("Functions() lists %s, which the module does not export", name)
		}
		want = append(want, signatureRow(def))
	}
	if len(defs) != len(want) {
		t.Errorf("the module exports %d functions, Functions() lists %d", len(defs), len(want))
	}

	row := regexp.MustCompile("^\\| `[a-z_]+` \\|")
	var got []string
	_, table, ok := strings.Cut(readABI(t), "\n## Signatures\n")
	if !ok {
		t.Fatal(`ABI.md has no "## Signatures" section`)
	}
	table, _, _ = strings.Cut(table, "\n## ")
	for _, line := range strings.Split(table, "\n") {
		if row.MatchString(line) {
			got = append(got, line)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ABI.md's signature table has\n%s\nthe host module is\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// signatureRow is def's row in ABI.md's signature table.
func signatureRow(def api.FunctionDefinition) string {
	typed := func(names []string, types []api.ValueType) string {
		s := make([]string, len(types))
		for i, t := range types {
			s[i] = "`" + api.ValueTypeName(t) + "`"
			if i < len(names) && names[i] != "" {
				s[i] = "`" + names[i] + ": " + api.ValueTypeName(t) + "`"
			}
		}
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("| `%s` | %s | %s |", def.Name(), typed(def.ParamNames(), def.ParamTypes()), typed(def.ResultNames(), def.ResultTypes()))
}

// abiExample is the example module of ABI.md, which must show exactly its
// text.
func abiExample() wasmtest.Program {
	const (
		msg    = "hello from WAT"
		key    = "last_input"
		result = `{"ok":true}`
	)
	fail := []wasmtest.Instr{{Op: "if"}, {Op: "unreachable"}, {Op: "end"}}
	var start []wasmtest.Instr
	add := func(in ...wasmtest.Instr) { start = append(start, in...) }
	add(wasmtest.Instr{Op: "i32.const", I32: 1, Comment: `log(1 = info, "hello from WAT"): the errno is ignored`},
		wasmtest.Instr{Op: "i32.const", I32: 0}, wasmtest.Instr{Op: "i32.const", I32: int32(len(msg))},
		wasmtest.Instr{Op: "call", Call: "log"}, wasmtest.Instr{Op: "drop"})
	add(wasmtest.Instr{Op: "i32.const", I32: 1024, Comment: "input_get(out_ptr 1024, out_cap 1024, len_ptr 64): trap unless it returns OK"},
		wasmtest.Instr{Op: "i32.const", I32: 1024}, wasmtest.Instr{Op: "i32.const", I32: 64},
		wasmtest.Instr{Op: "call", Call: "input_get"})
	add(fail...)
	add(wasmtest.Instr{Op: "i32.const", I32: 16, Comment: `kv_set("last_input", the input): trap unless it returns OK`},
		wasmtest.Instr{Op: "i32.const", I32: int32(len(key))}, wasmtest.Instr{Op: "i32.const", I32: 1024},
		wasmtest.Instr{Op: "i32.const", I32: 64}, wasmtest.Instr{Op: "i32.load"},
		wasmtest.Instr{Op: "call", Call: "kv_set"})
	add(fail...)
	add(wasmtest.Instr{Op: "i32.const", I32: 32, Comment: `result_set({"ok":true}): trap unless it returns OK`},
		wasmtest.Instr{Op: "i32.const", I32: int32(len(result))},
		wasmtest.Instr{Op: "call", Call: "result_set"})
	add(fail...)
	return wasmtest.Program{
		Imports: []wasmtest.Import{
			{Module: "cronbox", Name: "log", Params: 3, Result: true},
			{Module: "cronbox", Name: "input_get", Params: 3, Result: true},
			{Module: "cronbox", Name: "kv_set", Params: 4, Result: true},
			{Module: "cronbox", Name: "result_set", Params: 2, Result: true},
		},
		Pages: 1,
		Data:  []wasmtest.Data{{Offset: 0, Bytes: msg}, {Offset: 16, Bytes: key}, {Offset: 32, Bytes: result}},
		Start: start,
	}
}

// watBlock returns the first ```wat block of ABI.md.
func watBlock(t *testing.T) string {
	t.Helper()
	_, rest, ok := strings.Cut(readABI(t), "\n```wat\n")
	if !ok {
		t.Fatal("ABI.md has no ```wat block")
	}
	block, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatal("ABI.md's ```wat block does not end")
	}
	return block + "\n"
}

// testRuntime is a runtime with the cronbox host module, shared by the
// tests that run modules.
var testRuntime = sync.OnceValues(func() (*runtime.Runtime, error) {
	return runtime.New(context.Background(), runtime.Config{HostModules: []runtime.HostModule{{Name: hostapi.ModuleName, Instantiate: hostapi.Instantiate}}})
})

func runProgram(t *testing.T, p wasmtest.Program, call *hostapi.Call) *runtime.Result {
	t.Helper()
	rt, err := testRuntime()
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := p.Wasm()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, _, err := rt.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rt.Run(hostapi.WithCall(ctx, call), m, runtime.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type recordingSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *recordingSink) Log(level hostapi.Level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, fmt.Sprintf("%s %s", level, msg))
}

func (s *recordingSink) Progress(int, string) {}

// TestABIExample assembles and runs the example of ABI.md, whose text must
// be exactly that of the module run.
func TestABIExample(t *testing.T) {
	t.Parallel()
	p := abiExample()
	if got, want := watBlock(t), p.WAT(); got != want {
		t.Fatalf("ABI.md's example is\n%s\nthe module the test runs is\n%s", got, want)
	}
	sink := &recordingSink{}
	kv := hostapi.NewMemoryKV()
	call := &hostapi.Call{Input: []byte(`{"n":42}`), KV: kv, Sink: sink}
	res := runProgram(t, p, call)
	if res.Status != runtime.StatusSucceeded {
		t.Fatalf("status %s (%s), want succeeded", res.Status, res.Error)
	}
	if want := []string{hostapi.LevelInfo.String() + " hello from WAT"}; strings.Join(sink.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged %q, want %q", sink.lines, want)
	}
	v, ok, err := kv.Get(context.Background(), "last_input")
	if err != nil || !ok || string(v) != `{"n":42}` {
		t.Errorf("kv last_input = %q, %v, %v; want the input", v, ok, err)
	}
	if got := string(call.Result()); got != `{"ok":true}` {
		t.Errorf("result %q, want {\"ok\":true}", got)
	}

	// Without the kv permission kv_set fails, and the example traps.
	res = runProgram(t, p, &hostapi.Call{})
	if res.Status != runtime.StatusTrapped {
		t.Errorf("without kv: status %s, want trapped", res.Status)
	}
}

// TestExitCodes checks the rules of ABI.md's "Ending a run": returning from
// _start and proc_exit(0) succeed, proc_exit(n) fails with exit code n, a
// trap has no exit code.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	procExit := wasmtest.Import{Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: 1}
	exit := func(code int32) wasmtest.Program {
		return wasmtest.Program{Imports: []wasmtest.Import{procExit}, Pages: 1,
			Start: []wasmtest.Instr{{Op: "i32.const", I32: code}, {Op: "call", Call: "proc_exit"}}}
	}
	tests := []struct {
		name   string
		p      wasmtest.Program
		status runtime.Status
		code   int
	}{
		{"return", wasmtest.Program{Pages: 1}, runtime.StatusSucceeded, 0},
		{"proc_exit(0)", exit(0), runtime.StatusSucceeded, 0},
		{"proc_exit(1)", exit(1), runtime.StatusFailed, 1},
		{"proc_exit(300)", exit(300), runtime.StatusFailed, 300},
		{"trap", wasmtest.Program{Pages: 1, Start: []wasmtest.Instr{{Op: "unreachable"}}}, runtime.StatusTrapped, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runProgram(t, tt.p, &hostapi.Call{})
			if res.Status != tt.status || res.ExitCode != tt.code {
				t.Errorf("status %s, exit code %d; want %s, %d", res.Status, res.ExitCode, tt.status, tt.code)
			}
		})
	}
}
