//! The oracle for [`JsonLines`] is tracing-subscriber's own JSON formatter
//! (the format hookguard used before): the same events must give the same
//! JSON objects, timestamps aside. Timestamps are checked against httpdate.

use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

use super::*;
use crate::audit::{self, Decision, Outcome};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Events with every kind of field value and every character class that
/// needs escaping, plus real audit events.
fn emit_samples() {
    let nasty = "quote \" backslash \\ nl \n cr \r tab \t bs \u{8} ff \u{c} nul \0 \
                 ctrl \u{1f} del \u{7f} é 😀 \u{2028} </script>";
    tracing::info!(detail = nasty, "plain {} message", 42);
    tracing::warn!(target: "audit", n = u64::MAX, i = i64::MIN, yes = true, no = false, "ints");
    tracing::error!(
        a = 11.299_562_000_000_002_f64,
        b = 0.1_f64,
        c = 1e21_f64,
        d = 1e-7_f64,
        e = -0.0_f64,
        f = f64::NAN,
        g = f64::INFINITY,
        h = 3_f64,
        "floats"
    );
    let err = std::io::Error::other("disk \"full\"\n");
    tracing::warn!(error = %err, list = ?vec!["a\"b", "c"], ip = %IpAddr::V6(Ipv6Addr::LOCALHOST), "display and debug");
    tracing::info!(log.target = "dotted", log.line = 7_u64, "");
    tracing::debug!(target: "hookguard::replay", route = "/r", "nested {:?}", Some("x\ty"));
    // A forwarded and a rejected request.
    audit_samples().iter().take(2).for_each(audit::emit);
}

fn capture_with(ours: bool) -> Vec<String> {
    let capture = Capture::default();
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_target(true)
        .with_ansi(false);
    if ours {
        let subscriber = builder.event_format(JsonLines).finish();
        tracing::subscriber::with_default(subscriber, emit_samples);
    } else {
        let subscriber = builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish();
        tracing::subscriber::with_default(subscriber, emit_samples);
    }
    capture.lines()
}

#[test]
fn lines_equal_tracing_subscribers_json_format_apart_from_the_timestamp() {
    let ours = capture_with(true);
    let theirs = capture_with(false);
    assert_eq!(ours.len(), 8, "{ours:#?}");
    assert_eq!(ours.len(), theirs.len());
    for (mine, reference) in ours.iter().zip(&theirs) {
        let mut a: Value = serde_json::from_str(mine).unwrap_or_else(|e| panic!("{e}: {mine}"));
        let mut b: Value = serde_json::from_str(reference).unwrap();
        let ts = a["timestamp"].take();
        b["timestamp"].take();
        assert_eq!(a, b, "\nours:   {mine}\ntheirs: {reference}");
        // Same key order too: timestamp, level, fields in order, target.
        let keys = |line: &str| -> Vec<String> {
            let v: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
            v.keys().cloned().collect()
        };
        assert_eq!(keys(mine), keys(reference));
        let ts = ts.as_str().unwrap().to_owned();
        assert_eq!(ts.len(), "2026-11-23T14:26:47.013908Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }
}

#[test]
fn escaping_round_trips_through_serde_json_for_every_char_class() {
    let mut all = String::new();
    for c in (0u32..0x3000).filter_map(char::from_u32) {
        all.push(c);
    }
    all.push_str("😀\u{10ffff}");
    let mut out = String::new();
    write_json_str(&mut out, &all).unwrap();
    assert_eq!(serde_json::from_str::<String>(&out).unwrap(), all);
    assert_eq!(
        out,
        serde_json::to_string(&all).unwrap(),
        "same escapes as serde_json"
    );
}

fn http_date_parts(at: SystemTime) -> String {
    // "Tue, 14 Nov 2023 22:13:20 GMT" → "2023-11-14T22:13:20"
    let text = httpdate::fmt_http_date(at);
    let f: Vec<&str> = text.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == f[2]).unwrap() + 1;
    format!("{}-{month:02}-{:0>2}T{}", f[3], f[1], f[4])
}

#[test]
fn timestamps_agree_with_httpdate_across_four_centuries() {
    let check = |secs: u64, micros: u32| {
        let at = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros.into());
        let mut ours = String::new();
        write_rfc3339_micros(&mut ours, at).unwrap();
        assert_eq!(
            ours,
            format!("{}.{micros:06}Z", http_date_parts(at)),
            "{secs}"
        );
    };
    check(0, 0);
    check(951_782_400, 1); // 2000-02-29, a leap day of a century leap year
    check(4_107_542_399, 999_999); // 2100-02-28 23:59:59, 2100 is no leap year
    check(1_795_445_207, 13_908);
    // Every day for 400 years (a full Gregorian cycle), at varying times.
    let mut secs = 0u64;
    while secs < 146_097 * 86_400 {
        check(secs, (secs % 1_000_000) as u32);
        secs += 86_400 + 3_607;
    }
}

/// Audit decisions covering every outcome, every optional field present and
/// absent, and strings that need escaping.
fn audit_samples() -> Vec<Decision> {
    let mut forwarded = Decision::new("203.0.113.9".parse().unwrap());
    forwarded.route = Some("/webhooks/\"gh\"\\x".into());
    forwarded.provider = Some("github".into());
    forwarded.route_index = Some(0);
    forwarded.outcome = Outcome::Forwarded;
    forwarded.status = 200;
    forwarded.event_id = Some("evt_1\u{1}\n</script>é".into());
    forwarded.secret_index = Some(1);
    forwarded.latency = Duration::from_nanos(11_368_365);
    forwarded.upstream_latency = Some(Duration::from_nanos(11_299_562));
    forwarded.upstream_status = Some(503);
    let mut rejected = Decision::new("2001:db8::1".parse().unwrap());
    rejected.route = Some("/r".into());
    rejected.provider = Some("stripe".into());
    rejected.error = Some("invalid_signature");
    rejected.detail = Some("no signature matched (tried 2 secrets)\t\"x\"".into());
    rejected.status = 401;
    rejected.latency = Duration::from_micros(7);
    let unmatched = Decision::new("::1".parse().unwrap());
    let mut others = Vec::new();
    for outcome in [Outcome::Duplicate, Outcome::Handshake, Outcome::Queued] {
        let mut d = forwarded.clone();
        d.outcome = outcome;
        d.upstream_latency = None;
        d.upstream_status = None;
        d.latency = Duration::from_secs(3);
        others.push(d);
    }
    [vec![forwarded, rejected, unmatched], others].concat()
}

#[test]
fn latencies_are_written_as_their_exact_decimal_milliseconds() {
    let mut d = Decision::new("127.0.0.1".parse().unwrap());
    // As seconds × 1,000 the first printed 4.4589110000000005.
    d.latency = Duration::from_nanos(4_458_911);
    d.upstream_latency = Some(Duration::from_nanos(11_368_365));
    let mut line = String::new();
    audit::write_json(&d, &mut line);
    assert!(line.contains(r#""latency_ms":4.458911,"#), "{line}");
    assert!(line.contains(r#""upstream_ms":11.368365"#), "{line}");
}

#[test]
fn audit_lines_written_directly_equal_the_subscribers_apart_from_the_timestamp() {
    let samples = audit_samples();
    // Through tracing: no JSON sink is installed in unit tests, so `emit`
    // takes the event path, formatted by JsonLines.
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_target(true)
        .with_ansi(false)
        .event_format(JsonLines)
        .finish();
    tracing::subscriber::with_default(subscriber, || samples.iter().for_each(audit::emit));
    let through_tracing = capture.lines();
    assert_eq!(through_tracing.len(), samples.len());

    let strip_timestamp = |line: &str| -> String {
        let mut v: serde_json::Map<String, Value> =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["timestamp"].as_str().unwrap().len(), 27, "{line}");
        v.remove("timestamp");
        // Values, whatever the key order; the byte comparison below checks the order.
        serde_json::to_string(&v.into_iter().collect::<Vec<_>>()).unwrap()
    };
    for (d, reference) in samples.iter().zip(&through_tracing) {
        let mut direct = String::new();
        audit::write_json(d, &mut direct);
        assert!(
            direct.ends_with("}\n") && direct.matches('\n').count() == 1,
            "{direct}"
        );
        assert_eq!(
            strip_timestamp(direct.trim_end()),
            strip_timestamp(reference),
            "\ndirect:  {direct}tracing: {reference}"
        );
        // Byte for byte, once the timestamps agree.
        let ts = |line: &str| line[14..41].to_owned();
        assert_eq!(
            direct.trim_end().replacen(&ts(&direct), &ts(reference), 1),
            *reference
        );
    }
}
