// Runs a WASI module many times in fresh instances with Node's built-in
// WASI and writes the per-run latencies (ms) as JSON to the given file.
// Usage: node node.js MODULE.wasm RUNS WARMUP OUT.json
'use strict';
const fs = require('node:fs');
const { WASI } = require('node:wasi');

const [file, runs, warmup, out] = process.argv.slice(2);
const mod = new WebAssembly.Module(fs.readFileSync(file));
const devnull = fs.openSync('/dev/null', 'w');

// The "cronbox" host functions as cheap stubs: every call succeeds.
const host = {};
for (const imp of WebAssembly.Module.imports(mod)) {
  if (imp.module === 'cronbox' && imp.kind === 'function') {
    host[imp.name] = imp.name === 'abi_version' ? () => 1 : () => 0;
  }
}

function once() {
  const wasi = new WASI({ version: 'preview1', args: ['task'], env: {}, returnOnExit: true, stdout: devnull, stderr: devnull });
  const instance = new WebAssembly.Instance(mod, { wasi_snapshot_preview1: wasi.wasiImport, cronbox: host });
  const code = wasi.start(instance);
  if (code !== 0 && code !== undefined) throw new Error('module exited with ' + code);
}

for (let i = 0; i < Number(warmup); i++) once();
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const t0 = process.hrtime.bigint();
  once();
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
fs.writeFileSync(out, JSON.stringify(times));
