// The SDK's tests: task.ts, built with asc (from $ASC, else on PATH) or
// taken from $CRONBOX_SDK_TEST_WASM when it is set, run against the fake
// host.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../fake.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let wasm;

before(() => {
  if (process.env.CRONBOX_SDK_TEST_WASM) {
    wasm = readFileSync(process.env.CRONBOX_SDK_TEST_WASM);
    return;
  }
  const out = join(mkdtempSync(join(tmpdir(), "cronbox-as-")), "task.wasm");
  execFileSync(process.env.ASC || "asc", [join(here, "task.ts"), "--outFile", out, "--optimize",
    "--exportStart", "_start", "--lib", join(here, "..", "lib"), "--use", "abort=~lib/cronbox/abort",
    "--use", "trace=~lib/cronbox/trace", "--use", "seed=~lib/cronbox/seed"], { stdio: "inherit" });
  wasm = readFileSync(out);
});

test("log, progress, config and result", async () => {
  const r = await run(wasm, { input: "log", config: { every: 5 } });
  assert.equal(r.exitCode, 0, JSON.stringify(r.logs));
  assert.deepEqual(r.logs, [
    { level: "warn", msg: "plain" },
    { level: "info", msg: 'archived files=12 dir="/data/old logs" empty="" q="say \\"hi\\"\\n"' },
  ]);
  assert.deepEqual(r.progress, [{ percent: 50, msg: "half" }]);
  assert.deepEqual(JSON.parse(r.result), { config: { every: 5 } });
});

test("kv", async () => {
  const kv = new Map([["z", "1"]]);
  const r = await run(wasm, { input: "kv", kv });
  assert.equal(r.exitCode, 0, JSON.stringify(r.logs));
  assert.equal(r.result, "301");
  assert.equal(kv.size, 301);
  assert.equal(kv.has("a"), false);
  const denied = await run(wasm, { input: "kv", kv: null });
  assert.equal(denied.exitCode, 2);
});

test("http", async () => {
  const r = await run(wasm, {
    input: "http",
    http: {
      "GET https://api.example.com/x": { status: 200, headers: { "Content-Type": ["application/json"] }, body: '{"n": 1}' },
      "POST https://api.example.com/x": { status: 201 },
    },
  });
  assert.equal(r.exitCode, 0, JSON.stringify(r.logs));
  assert.equal(r.result, "true");
  assert.equal(r.requests[1].body, "hello");
  assert.deepEqual(r.requests[1].headers, { "Content-Type": ["text/plain"] });
  assert.equal(r.openResponses, 0);
});

test("abort logs its message and exits with 1", async () => {
  const r = await run(wasm, { input: "abort" });
  assert.equal(r.exitCode, 1);
  assert.match(r.logs.at(-1).msg, /^abort: it broke at .*\.ts:\d+:\d+$/);
  assert.equal(r.logs.at(-1).level, "error");
});
