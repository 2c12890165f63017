//! summary fetches today's hourly temperatures from Open-Meteo and
//! summarizes them: the lowest and the highest with their hours, and the
//! mean. It keeps the summary in the KV store under
//! summary/<latitude>,<longitude> and reports it as its result.
//!
//! Config: {"url": "https://api.open-meteo.com/v1/forecast",
//!          "latitude": 52.52, "longitude": 13.41}
//! Input (optional): {"latitude": ..., "longitude": ...} overrides them.

use cronbox::json::Value;
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        cronbox::error!("summary failed", err = e);
        std::process::exit(1);
    }
}

type Error = Box<dyn std::error::Error>;

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn run() -> Result<(), Error> {
    let config = cronbox::config_json()?;
    let input = cronbox::input_json()?;
    let url = config.get("url").and_then(Value::as_str).unwrap_or("https://api.open-meteo.com/v1/forecast");
    let lat = number(&input, "latitude").or_else(|| number(&config, "latitude")).ok_or("no latitude in the input or the config")?;
    let lon = number(&input, "longitude").or_else(|| number(&config, "longitude")).ok_or("no longitude in the input or the config")?;

    let req_url = format!("{}?latitude={}&longitude={}&hourly=temperature_2m&forecast_days=1", url, lat, lon);
    cronbox::info!("fetching", url = req_url);
    let resp = cronbox::http(
        &cronbox::Request::get(&req_url).header("Accept", "application/json").timeout(Duration::from_secs(20)),
    )?;
    if resp.status != 200 {
        return Err(format!("{} answered {}: {}", url, resp.status, resp.text().chars().take(200).collect::<String>()).into());
    }
    cronbox::progress(50, "fetched")?;
    let summary = summarize(&resp.json()?)?;
    let key = format!("summary/{},{}", lat, lon);
    cronbox::kv_set(&key, summary.to_string().as_bytes())?;
    cronbox::info!(
        "summarized",
        hours = number(&summary, "hours").unwrap_or(0.0),
        min = number(&summary, "min").unwrap_or(0.0),
        max = number(&summary, "max").unwrap_or(0.0)
    );
    cronbox::progress(100, "done")?;
    cronbox::set_result_json(&summary)?;
    Ok(())
}

/// The summary of an Open-Meteo answer: {"hourly": {"time": [...],
/// "temperature_2m": [...]}, "hourly_units": {"temperature_2m": "°C"}}.
/// Hours without a reading (null) are left out.
fn summarize(forecast: &Value) -> Result<Value, Error> {
    let hourly = forecast.get("hourly").ok_or("the answer has no hourly data")?;
    let times = hourly.get("time").and_then(Value::as_array).ok_or("the answer has no hourly times")?;
    let temps = hourly.get("temperature_2m").and_then(Value::as_array).ok_or("the answer has no hourly temperatures")?;
    if times.len() != temps.len() {
        return Err(format!("the answer has {} times but {} temperatures", times.len(), temps.len()).into());
    }
    let unit = forecast.get("hourly_units").and_then(|u| u.get("temperature_2m")).and_then(Value::as_str).unwrap_or("°C");
    let mut readings = times.iter().zip(temps).filter_map(|(t, v)| Some((t.as_str()?, v.as_f64()?)));
    let first = readings.next().ok_or("the answer has no temperature")?;
    let (mut min, mut max, mut sum, mut n) = (first, first, first.1, 1);
    for r in readings {
        if r.1 < min.1 {
            min = r;
        }
        if r.1 > max.1 {
            max = r;
        }
        sum += r.1;
        n += 1;
    }
    let mean = (sum / n as f64 * 10.0).round() / 10.0;
    Ok(Value::object(vec![
        ("hours", Value::from(n as i64)),
        ("min", Value::from(min.1)),
        ("min_at", Value::from(min.0)),
        ("max", Value::from(max.1)),
        ("max_at", Value::from(max.0)),
        ("mean", Value::from(mean)),
        ("unit", Value::from(unit)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://api.open-meteo.com/v1/forecast?latitude=52.52&longitude=13.41&hourly=temperature_2m&forecast_days=1";
    const ANSWER: &str = r#"{"latitude":52.52,"hourly_units":{"temperature_2m":"°C"},
        "hourly":{"time":["2026-12-07T00:00","2026-12-07T01:00","2026-12-07T02:00","2026-12-07T03:00"],
                  "temperature_2m":[1.5,-0.5,null,3.5]}}"#;

    #[test]
    fn summarizes_the_forecast() {
        let fake = cronbox::fake::install();
        fake.set_config(r#"{"url": "https://api.open-meteo.com/v1/forecast", "latitude": 52.52, "longitude": 13.41}"#);
        fake.http("GET", URL, 200, "application/json", ANSWER);
        run().unwrap();
        let want = r#"{"hours":3,"min":-0.5,"min_at":"2026-12-07T01:00","max":3.5,"max_at":"2026-12-07T03:00","mean":1.5,"unit":"°C"}"#;
        assert_eq!(fake.result().as_deref(), Some(want));
        assert_eq!(fake.kv("summary/52.52,13.41").as_deref(), Some(want.as_bytes()));
    }

    #[test]
    fn input_overrides_the_place() {
        let fake = cronbox::fake::install();
        fake.set_config(r#"{"url": "https://x.example/f", "latitude": 1, "longitude": 2}"#);
        fake.set_input(r#"{"latitude": 48.1, "longitude": 11.6}"#);
        fake.http("GET", "https://x.example/f?latitude=48.1&longitude=11.6&hourly=temperature_2m&forecast_days=1", 200, "", ANSWER);
        run().unwrap();
        assert!(fake.kv("summary/48.1,11.6").is_some());
    }

    #[test]
    fn an_error_status_or_bad_answer_fails() {
        let fake = cronbox::fake::install();
        fake.set_config(r#"{"url": "https://api.open-meteo.com/v1/forecast", "latitude": 52.52, "longitude": 13.41}"#);
        fake.http("GET", URL, 503, "text/plain", "busy");
        let err = run().unwrap_err().to_string();
        assert!(err.contains("answered 503: busy"), "{}", err);
        for bad in [r#"{}"#, r#"{"hourly":{"time":["a"],"temperature_2m":[]}}"#, r#"{"hourly":{"time":["a"],"temperature_2m":[null]}}"#, "not json"] {
            let fake = cronbox::fake::install();
            fake.set_config(r#"{"url": "https://api.open-meteo.com/v1/forecast", "latitude": 52.52, "longitude": 13.41}"#);
            fake.http("GET", URL, 200, "application/json", bad);
            assert!(run().is_err(), "{} was summarized", bad);
            assert_eq!(fake.result(), None);
        }
    }

    #[test]
    fn without_a_place_it_fails() {
        let _fake = cronbox::fake::install();
        assert!(run().unwrap_err().to_string().contains("no latitude"));
    }
}
