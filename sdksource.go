// Package cronbox holds what the cronbox binary carries of its own source:
// the Go SDK, so that apps created with `cronbox app new` build and test
// without network access, and the SDKs of the other languages, which
// `cronbox app new` copies into an app and `cronbox build` falls back on.
package cronbox

import "embed"

// SDKModule is the module path of the Go SDK: this module's, which the
// SDK's go.mod names and an app's go.mod requires.
const SDKModule = "github.com/cronbox/cronbox"

// SDKSource is the source of packages sdk and sdk/sdkhttp, with the
// module's go.mod, at their paths in this module. Test files are included;
// whoever extracts the SDK leaves them out.
//
//go:embed go.mod sdk/*.go sdk/sdkhttp/*.go sdk/README.md
var SDKSource embed.FS

// LangSDKSource holds the SDKs for C, Rust and AssemblyScript at their
// paths in this module: sdk/c/cronbox.h; the crate sdk/rust (Cargo.toml,
// README.md, src/); the library sdk/assemblyscript/lib/cronbox.ts and the
// fake host sdk/assemblyscript/fake.mjs.
//
//go:embed sdk/c/cronbox.h sdk/rust/Cargo.toml sdk/rust/README.md sdk/rust/src/*.rs sdk/assemblyscript/lib/cronbox.ts sdk/assemblyscript/fake.mjs
var LangSDKSource embed.FS
