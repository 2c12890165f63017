package runtime

import "sync"

// HoldNative makes r's background compilations of machine code wait to
// start until release is called (or r is closed). Call it before Load.
func HoldNative(r *Runtime) (release func()) {
	gate := make(chan struct{})
	r.nativeGate = gate
	return sync.OnceFunc(func() { close(gate) })
}
