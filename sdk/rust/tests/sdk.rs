//! The SDK's tests, natively against the fake host.

use cronbox::{errno, fake, json, Level, Request};

#[test]
fn log_levels_and_attributes() {
    let f = fake::install();
    assert_eq!(cronbox::abi_version(), 1);
    cronbox::log(Level::Warn, "plain").unwrap();
    cronbox::info!("archived", files = 12, dir = "/data/old logs", empty = "", q = "say \"hi\"\n");
    cronbox::error!(format!("{} of {}", 3, 4));
    let e = cronbox::log_attrs(Level::Debug, "x", &[]).and(Ok::<_, cronbox::Error>(())).unwrap();
    assert_eq!(e, ());
    let logs = f.logs();
    assert_eq!(logs[0], (Level::Warn, "plain".to_string()));
    assert_eq!(logs[1], (Level::Info, r#"archived files=12 dir="/data/old logs" empty="" q="say \"hi\"\n""#.to_string()));
    assert_eq!(logs[2], (Level::Error, "3 of 4".to_string()));
    assert_eq!(logs.len(), 4);
}

#[test]
fn progress_and_result() {
    let f = fake::install();
    cronbox::progress(50, "half").unwrap();
    let e = cronbox::progress(101, "over").unwrap_err();
    assert_eq!(e.code, errno::INVALID);
    assert_eq!(f.progress(), vec![(50, "half".to_string())]);
    assert_eq!(f.result(), None);
    cronbox::set_result(r#"{"ok": [1, 2.5e3, true, null]}"#).unwrap();
    let e = cronbox::set_result("{").unwrap_err();
    assert_eq!(e.code, errno::INVALID);
    assert!(e.message.contains("not JSON"), "{}", e);
    assert_eq!(f.result().as_deref(), Some(r#"{"ok": [1, 2.5e3, true, null]}"#));
    let v = json::Value::object(vec![("n", json::Value::from(3i64)), ("s", "a\"b".into())]);
    cronbox::set_result_json(&v).unwrap();
    assert_eq!(f.result().as_deref(), Some(r#"{"n":3,"s":"a\"b"}"#));
}

#[test]
fn input_and_config() {
    let f = fake::install();
    assert_eq!(cronbox::input().unwrap(), b"null");
    assert_eq!(cronbox::config_json().unwrap(), json::Value::Object(vec![]));
    // Larger than the first buffer: the SDK retries with a larger one.
    let big = format!("{{\"s\":\"{}\"}}", "x".repeat(10000));
    f.set_input(&big);
    assert_eq!(cronbox::input().unwrap(), big.as_bytes());
    assert_eq!(cronbox::input_json().unwrap().get("s").and_then(|s| s.as_str()).map(|s| s.len()), Some(10000));
}

#[test]
fn kv() {
    let f = fake::install();
    assert!(cronbox::kv_get("a").unwrap_err().is_not_found());
    cronbox::kv_set("a", b"1").unwrap();
    cronbox::kv_set("b", b"x\0y").unwrap();
    assert_eq!(cronbox::kv_get("b").unwrap(), b"x\0y");
    assert_eq!(cronbox::kv_set("", b"x").unwrap_err().code, errno::INVALID);
    cronbox::kv_delete("b").unwrap();
    cronbox::kv_delete("b").unwrap();
    assert_eq!(f.kv("b"), None);
    // Keys across several pages, some near the key limit.
    for i in 0..300 {
        cronbox::kv_set(&format!("p/{:03}/{}", i, "0".repeat(400)), b"v").unwrap();
    }
    let keys = cronbox::kv_list("p/").unwrap();
    assert_eq!(keys.len(), 300);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    f.kv_put("z", b"1");
    let all: Vec<String> = cronbox::kv_keys("").map(|k| k.unwrap()).collect();
    assert_eq!(all.len(), 302);
    assert_eq!(all[0], "a");
    assert_eq!(all[301], "z");
    f.set_kv_permission(false);
    let e = cronbox::kv_get("a").unwrap_err();
    assert_eq!(e.code, errno::DENIED);
    assert_eq!(e.to_string(), "kv_get: permission denied: the app does not have the kv permission");
    assert_eq!(cronbox::kv_list("").unwrap_err().code, errno::DENIED);
}

#[test]
fn http() {
    let f = fake::install();
    f.http("GET", "https://api.example.com/x", 200, "application/json", r#"{"n": 1}"#);
    f.http("POST", "https://api.example.com/x", 201, "", "");
    let r = cronbox::http_get("https://api.example.com/x").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json().unwrap().get("n").and_then(|n| n.as_f64()), Some(1.0));
    let req = Request::new("POST", "https://api.example.com/x")
        .header("Content-Type", "text/plain")
        .header("Host", "dropped")
        .body("hello")
        .timeout(std::time::Duration::from_secs(2));
    let r = cronbox::http(&req).unwrap();
    assert_eq!(r.status, 201);
    assert!(r.body.is_empty());
    assert_eq!(f.requests()[1], ("https://api.example.com/x".to_string(), b"hello".to_vec()));
    let e = cronbox::http_get("https://evil.example/").unwrap_err();
    assert_eq!(e.code, errno::DENIED);
    assert!(e.message.contains("evil.example"));
    assert_eq!(cronbox::http_get("ftp://x/").unwrap_err().code, errno::INVALID);
    assert_eq!(f.open_responses(), 0);
}

#[test]
fn json_round_trip_and_errors() {
    let v = json::parse(r#" {"a": [1, -2.5, 3e2, true, false, null], "s": "\u00e9\ud83d\ude00\n"} "#).unwrap();
    assert_eq!(v.get("s").and_then(|s| s.as_str()), Some("é😀\n"));
    assert_eq!(v.to_string(), r#"{"a":[1,-2.5,300,true,false,null],"s":"é😀\n"}"#);
    for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "\"\\x\"", "nul", "1 2", "\"\u{1}\""] {
        assert!(json::parse(bad).is_err(), "{:?} parsed", bad);
    }
    let deep = "[".repeat(600) + &"]".repeat(600);
    assert!(json::parse(&deep).is_err());
}

/// Mutates JSON seeds (bytes flipped, inserted, deleted, cut, deep
/// nesting) with a fixed random seed and parses each: json::parse reads the
/// run's input and configuration and the host's answers, and must return,
/// never panic, whatever the bytes; what it accepts it writes back as JSON
/// it accepts again.
#[test]
fn json_fuzz() {
    let seeds = [
        r#"{"status":200,"headers":{"Content-Type":["application/json"]},"body_size":12,"truncated":false}"#,
        r#"{"name": "Ad\u00e9 \"A\"", "n": -2.5e1, "a": [1, {"name": "x"}], "e": ""}"#,
        r#"[{"a":1},true,false,null,"\ud83d\ude00",0.5E+3, "\ud800"]"#,
    ];
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as usize
    };
    let alphabet = b"{}[]\":,\\u0e-1.tfn ";
    for _ in 0..20000 {
        let mut b = seeds[next() % seeds.len()].as_bytes().to_vec();
        for _ in 0..1 + next() % 4 {
            let at = if b.is_empty() { 0 } else { next() % (b.len() + 1) };
            match next() % 5 {
                0 if at < b.len() => b[at] = (next() % 256) as u8,
                1 => b.insert(at, alphabet[next() % alphabet.len()]),
                2 if at < b.len() => {
                    b.remove(at);
                }
                3 => b.truncate(at),
                4 => {
                    let k = next() % 700;
                    b.splice(0..0, std::iter::repeat(b'[').take(k));
                }
                _ => {}
            }
        }
        if let Ok(v) = json::parse_bytes(&b) {
            let again = json::parse(&v.to_string()).expect("what parse accepts, written back, parses");
            assert_eq!(again.to_string(), v.to_string());
        }
    }
}
