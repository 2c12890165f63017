// A task that exercises every function of the SDK; sdk.test.mjs runs it
// against the fake host and checks what it did. Its input picks a part.
import * as cb from "cronbox";

function expect(ok: bool, what: string): void {
  if (!ok) {
    cb.error("check failed", ["what", what]);
    cb.exit(2);
  }
}

const input = cb.input()!;
if (input == "\"log\"") {
  expect(cb.abiVersion() == 1, "abi version");
  cb.log(cb.Level.Warn, "plain");
  cb.info("archived", ["files", "12", "dir", "/data/old logs", "empty", "", "q", "say \"hi\"\n"]);
  expect(cb.log(7, "x") == cb.EINVAL, "bad level");
  expect(cb.errorMessage() == "unknown log level 7", "message: " + cb.errorMessage());
  expect(cb.progress(50, "half") == 0, "progress");
  expect(cb.progress(101) == cb.EINVAL, "progress over 100");
  expect(cb.setResult("{") == cb.EINVAL, "bad result");
  expect(cb.setResult("{\"config\":" + cb.config()! + "}") == 0, "result");
} else if (input == "\"kv\"") {
  expect(cb.kvGet("a") === null && cb.lastErrno() == cb.ENOTFOUND, "absent key");
  expect(cb.kvSetString("a", "1") == 0, "set");
  expect(cb.kvGetString("a")! == "1", "get");
  expect(cb.kvSetString("", "x") == cb.EINVAL, "empty key");
  expect(cb.kvDelete("b") == 0, "delete absent");
  // Keys across several pages, some near the key limit.
  for (let i = 0; i < 300; i++) {
    cb.kvSetString("p/" + (i < 10 ? "00" : i < 100 ? "0" : "") + i.toString() + "/" + "0".repeat(400), "v");
  }
  const keys = cb.kvList("p/")!;
  expect(keys.length == 300, "300 keys, not " + keys.length.toString());
  expect(keys[299].startsWith("p/299/"), "order");
  expect(cb.kvDelete("a") == 0, "delete");
  cb.setResult(cb.kvList("")!.length.toString());
} else if (input == "\"http\"") {
  const r = cb.httpGet("https://api.example.com/x")!;
  expect(r.status == 200, "status");
  expect(r.header("content-type")! == "application/json", "header");
  expect(r.text() == "{\"n\": 1}", "body " + r.text());
  const p = cb.http(new cb.Request("POST", "https://api.example.com/x").header("Content-Type", "text/plain").header("Host", "x").bodyString("hello"))!;
  expect(p.status == 201 && p.body.length == 0, "post");
  expect(cb.httpGet("https://evil.example/") === null && cb.lastErrno() == cb.EDENIED, "denied");
  expect(cb.errorMessage().includes("evil.example"), "denied message");
  cb.setResult("true");
} else if (input == "\"abort\"") {
  assert(false, "it broke");
}
