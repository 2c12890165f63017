// The tests of count: its module, built by `cronbox build apps/primes`,
// runs in Node against the SDK's fake host.
//
//     cronbox build apps/primes && (cd apps/primes/tasks/count && npm test)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { run } from "../../../../../sdk/assemblyscript/fake.mjs";

const wasm = readFileSync(new URL("../../count.wasm", import.meta.url));

test("counts in batches with progress", async () => {
  const kv = new Map();
  const r = await run(wasm, { input: { limit: 1000 }, config: { batch: 300 }, kv });
  assert.equal(r.exitCode, 0, JSON.stringify(r.logs));
  assert.deepEqual(JSON.parse(r.result), { limit: 1000, primes: 168, batches: 4, resumed_at: 0 });
  assert.deepEqual(r.progress.map((p) => p.percent), [30, 60, 90, 100]);
  assert.equal(r.progress[3].msg, "1000 of 1000, 168 primes");
  assert.equal(kv.has("checkpoint"), false);
});

test("resumes from a checkpoint of the same limit", async () => {
  // 25 primes below 100.
  const kv = new Map([["checkpoint", "1000 100 25"]]);
  const r = await run(wasm, { input: { limit: 1000 }, config: { batch: 450 }, kv });
  assert.equal(r.exitCode, 0, JSON.stringify(r.logs));
  assert.deepEqual(JSON.parse(r.result), { limit: 1000, primes: 168, batches: 2, resumed_at: 100 });
  const other = await run(wasm, { input: { limit: 500 }, config: { batch: 500 }, kv: new Map([["checkpoint", "1000 100 25"]]) });
  assert.deepEqual(JSON.parse(other.result), { limit: 500, primes: 95, batches: 1, resumed_at: 0 });
});

test("a limit over the maximum fails", async () => {
  const r = await run(wasm, { input: { limit: 1000000000 } });
  assert.equal(r.exitCode, 1);
  assert.equal(r.result, null);
});
