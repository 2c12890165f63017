// count counts the primes below a limit in batches: it reports progress
// after each batch and keeps a checkpoint in the KV store ("checkpoint":
// "limit next count"), so that a run stopped midway (by its deadline, a
// restart) resumes where it was. The run's top-level statements are the
// task.
//
// Input:  {"limit": 1000000}       (optional)
// Config: {"batch": 100000}        numbers per batch
// Result: {"limit": N, "primes": P, "batches": B, "resumed_at": R}
import * as cronbox from "cronbox";

// intMember returns the integer member key of a flat JSON object, or def.
function intMember(text: string, key: string, def: i64): i64 {
  const at = text.indexOf("\"" + key + "\"");
  if (at < 0) return def;
  let i = text.indexOf(":", at) + 1;
  while (i < text.length && text.charCodeAt(i) == 0x20) i++;
  let j = i;
  while (j < text.length && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j++;
  if (i == j || j - i > 12) return def;
  return I64.parseInt(text.substring(i, j));
}

// isPrime tests n by trial division by 6k ± 1.
function isPrime(n: i64): bool {
  if (n < 2) return false;
  if (n < 4) return true;
  if (n % 2 == 0 || n % 3 == 0) return false;
  for (let d: i64 = 5; d * d <= n; d += 6) {
    if (n % d == 0 || n % (d + 2) == 0) return false;
  }
  return true;
}

function fail(step: string): void {
  cronbox.error("count failed", ["step", step, "err", cronbox.strerror(cronbox.lastErrno()), "detail", cronbox.errorMessage()]);
  cronbox.exit(1);
}

const input = cronbox.input();
if (input === null) fail("reading the input");
const config = cronbox.config();
if (config === null) fail("reading the config");
const limit = intMember(input!, "limit", 1000000);
const batch = max<i64>(intMember(config!, "batch", 100000), 1);
if (limit > 100000000) {
  cronbox.error("the limit is too large", ["limit", limit.toString(), "max", "100000000"]);
  cronbox.exit(1);
}

// Resume from a checkpoint of the same limit.
let next: i64 = 0;
let count: i64 = 0;
const saved = cronbox.kvGetString("checkpoint");
if (saved !== null) {
  const parts = saved!.split(" ");
  if (parts.length == 3 && I64.parseInt(parts[0]) == limit) {
    next = I64.parseInt(parts[1]);
    count = I64.parseInt(parts[2]);
    cronbox.info("resuming", ["at", next.toString(), "primes", count.toString()]);
  }
} else if (cronbox.lastErrno() != cronbox.ENOTFOUND) {
  fail("reading the checkpoint");
}
const resumedAt = next;

let batches = 0;
while (next < limit) {
  const end = min<i64>(next + batch, limit);
  for (let n = next; n < end; n++) {
    if (isPrime(n)) count++;
  }
  next = end;
  batches++;
  if (cronbox.kvSetString("checkpoint", limit.toString() + " " + next.toString() + " " + count.toString()) != 0) fail("storing the checkpoint");
  const pct = <i32>(next * 100 / limit);
  if (cronbox.progress(pct, next.toString() + " of " + limit.toString() + ", " + count.toString() + " primes") != 0) fail("reporting progress");
}
if (cronbox.kvDelete("checkpoint") != 0) fail("removing the checkpoint");
cronbox.info("counted", ["limit", limit.toString(), "primes", count.toString(), "batches", batches.toString()]);
if (cronbox.setResult("{\"limit\":" + limit.toString() + ",\"primes\":" + count.toString() +
  ",\"batches\":" + batches.toString() + ",\"resumed_at\":" + resumedAt.toString() + "}") != 0) fail("setting the result");
