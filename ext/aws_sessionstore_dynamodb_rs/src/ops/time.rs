//! Timestamps in the exact text form the official gem writes.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch as a float.
pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Ruby's `Time.now.to_f.to_s`, e.g. `"1795303103.393567"`: the shortest
/// text that reads back as the same float, with `.0` on whole numbers.
pub fn ruby_float_string(secs: f64) -> String {
    let text = format!("{secs}");
    if text.contains('.') || text.contains('e') || !secs.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

/// `Time.now.to_f.to_s` now.
pub fn now_string() -> String {
    ruby_float_string(now_f64())
}

/// Whole seconds since the epoch now (the user record's entry dates).
pub fn now_seconds() -> i64 {
    now_f64() as i64
}

/// Parses a stored timestamp, string or number form.
pub fn parse_seconds(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ruby_float_to_s() {
        assert_eq!(ruby_float_string(1795303103.393567), "1795303103.393567");
        assert_eq!(ruby_float_string(1795303103.0), "1795303103.0");
        assert_eq!(ruby_float_string(1795303103.5), "1795303103.5");
    }

    #[test]
    fn now_reads_back() {
        let now = now_string();
        let parsed = parse_seconds(&now).expect("parses");
        assert!((parsed - now_f64()).abs() < 5.0);
    }
}
