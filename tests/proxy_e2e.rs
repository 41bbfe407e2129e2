//! End-to-end: the real proxy and a real upstream on ephemeral loopback ports,
//! one test per row of the request pipeline's table
//! (docs/configuration.md), plus forwarding fidelity.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Standard Webhooks secret from the reference libraries' tests.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The proxy every row runs against: a 1 KiB body limit, a 500 ms upstream
/// timeout, and one route per case of the table.
fn base() -> TomlConfig {
    base_with_upstream_timeout("500ms")
}

fn base_with_upstream_timeout(timeout: &str) -> TomlConfig {
    TomlConfig::new()
        .server(r#"max_body = "1KiB""#)
        .server(r#"request_timeout = "2s""#)
        .server(r#"shutdown_grace = "3s""#)
        .upstream(&format!("timeout = {}", quoted(timeout)))
        .github("/gh", GH_SECRET, &[])
        .github("/only-10", GH_SECRET, &[r#"allow_ips = ["10.0.0.0/8"]"#])
        .route(&format!(
            "path = \"/sw\"\nprovider = \"standard-webhooks\"\nsecrets = [{}]",
            quoted(SW_SECRET)
        ))
        .route(
            r#"
path = "/ts"
provider = "hmac"
secrets = ["ts-secret"]
tolerance = "5m"
[route.hmac]
algorithm = "sha256"
header = "X-Signature"
encoding = "hex"
timestamp_header = "X-Timestamp"
signed = "{timestamp}.{body}"
"#,
        )
        .github(
            "/rewrite",
            GH_SECRET,
            &[r#"upstream = "{upstream}/internal/hooks""#],
        )
}

fn sw_headers(id: &str, ts: i64, body: &[u8]) -> Vec<(String, String)> {
    standard_webhooks_headers(SW_SECRET, id, ts, body)
}

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn row_route_lookup_404() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let a = post(&p, "/nope", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_rejected(&a, 404, "no_route");
    // Exact match only: a prefix or trailing slash is another path.
    let a = post(&p, "/gh/", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_rejected(&a, 404, "no_route");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn row_method_405_with_allow() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let a = send(
        &p,
        "PUT",
        "/gh",
        &[("x-hub-signature-256", GH_SIG)],
        GH_BODY,
    )
    .await;
    assert_rejected(&a, 405, "method_not_allowed");
    assert_eq!(a.headers["allow"], "POST");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn row_client_ip_403() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    // 127.0.0.1 is not in 10.0.0.0/8, and an untrusted peer's
    // X-Forwarded-For is ignored however it is spelled.
    let a = post(
        &p,
        "/only-10",
        &[
            ("x-hub-signature-256", GH_SIG),
            ("x-forwarded-for", "10.1.2.3"),
        ],
        GH_BODY,
    )
    .await;
    assert_rejected(&a, 403, "ip_not_allowed");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn trusted_proxy_forwarded_for_is_read_right_to_left() {
    let up = Upstream::start().await;
    let cfg = base()
        .server(r#"trusted_proxies = ["127.0.0.1/32"]"#)
        .build();
    let p = proxy(&cfg, &up).await;
    // The rightmost untrusted hop is 10.1.2.3: allowed.
    let a = post(
        &p,
        "/only-10",
        &[
            ("x-hub-signature-256", GH_SIG),
            ("x-forwarded-for", "203.0.113.5, 10.1.2.3"),
        ],
        GH_BODY,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    // A spoofed leftmost entry does not help: the rightmost untrusted is 203.0.113.5.
    let a = post(
        &p,
        "/only-10",
        &[
            ("x-hub-signature-256", GH_SIG),
            ("x-forwarded-for", "10.9.9.9, 203.0.113.5"),
        ],
        GH_BODY,
    )
    .await;
    assert_rejected(&a, 403, "ip_not_allowed");
    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].headers["x-forwarded-for"],
        "203.0.113.5, 10.1.2.3, 127.0.0.1"
    );
}

/// What a raw client does after writing its request.
enum Then<'a> {
    /// Nothing: it waits for the answer.
    Wait,
    /// Writes more bytes (errors ignored: the proxy may already have
    /// answered and closed).
    Send(&'a [u8]),
    /// Closes its sending side: the proxy sees the end of the stream.
    Close,
}

/// Sends raw bytes and returns the status line and the response text.
async fn raw(p: &hookguard::runtime::Running, request: &[u8], then: Then<'_>) -> String {
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    match then {
        Then::Wait => {}
        Then::Send(more) => {
            let _ = s.write_all(more).await;
        }
        Then::Close => s.shutdown().await.unwrap(),
    }
    rest_of_answer(&mut s).await
}

/// Whatever the proxy sends until it closes (at most 3 s), as text.
async fn rest_of_answer(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends a request head alone and returns the connection and the first
/// bytes answered, which must come within 2 s with nothing more sent.
async fn first_answer(
    p: &hookguard::runtime::Running,
    head: &str,
    expectation: &str,
) -> (TcpStream, String) {
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect(expectation)
        .unwrap();
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test]
async fn row_body_limit_413_from_content_length_without_reading_body() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    // Declares 10 MB and sends none of it: the answer must come anyway.
    let req = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n"
    );
    let (_, head) = first_answer(&p, &req, "answered before the body was sent").await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains(r#"{"error":"body_too_large"}"#), "{head}");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn row_body_limit_413_for_chunked_body_growing_past_limit() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let head = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunk = format!("400\r\n{}\r\n", "a".repeat(0x400));
    let body = format!("{chunk}{chunk}0\r\n\r\n");
    let text = raw(&p, head.as_bytes(), Then::Send(body.as_bytes())).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains(r#"{"error":"body_too_large"}"#), "{text}");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn row_signature_missing_and_invalid_401() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let a = post(&p, "/gh", &[], GH_BODY).await;
    assert_rejected(&a, 401, "missing_signature");
    let a = post(
        &p,
        "/gh",
        &[("x-hub-signature-256", GH_SIG)],
        b"Hello, World?",
    )
    .await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn row_timestamp_tolerance_past_and_future_401() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let body = br#"{"order":1}"#;
    for skew in [-600i64, 600] {
        let ts = (now_secs() + skew).to_string();
        let sig = hmac256_hex("ts-secret", &[ts.as_bytes(), b".", body]);
        let a = post(
            &p,
            "/ts",
            &[("x-timestamp", &ts), ("x-signature", &sig)],
            body,
        )
        .await;
        assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    }
    let ts = now_secs().to_string();
    let sig = hmac256_hex("ts-secret", &[ts.as_bytes(), b".", body]);
    let a = post(
        &p,
        "/ts",
        &[("x-timestamp", &ts), ("x-signature", &sig)],
        body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn row_duplicate_delivered_is_200_and_not_forwarded() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let body = br#"{"n":1}"#;
    let h = sw_headers("msg_dup_1", now_secs(), body);
    let a = post(&p, "/sw", &refs(&h), body).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.text(), "ok from upstream");
    let a = post(&p, "/sw", &refs(&h), body).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    // Re-signed with a new timestamp, the same signed id is still a duplicate.
    let h2 = sw_headers("msg_dup_1", now_secs() - 1, body);
    let a = post(&p, "/sw", &refs(&h2), body).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn row_duplicate_in_flight_is_409_exactly_one_reaches_upstream() {
    let up = Upstream::start().await;
    up.set(Behavior {
        delay: Duration::from_millis(300),
        ..Behavior::default()
    });
    let p = proxy(&base().build(), &up).await;
    let body = br#"{"n":2}"#;
    let h = sw_headers("msg_concurrent", now_secs(), body);
    let h = refs(&h);
    let (a, b) = tokio::join!(post(&p, "/sw", &h, body), post(&p, "/sw", &h, body));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text(), b.text());
    let conflict = if a.status == 409 { &a } else { &b };
    assert_rejected(conflict, 409, "duplicate");
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn provider_hanging_up_mid_forward_still_settles_the_claim() {
    let up = Upstream::start().await;
    up.set(Behavior {
        delay: Duration::from_millis(300),
        ..Behavior::default()
    });
    let p = proxy(&base().build(), &up).await;
    let body = br#"{"n":3}"#;
    let h = sw_headers("msg_hangup", now_secs(), body);
    let mut head = format!(
        "POST /sw HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in &h {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    // Hang up once the upstream has the request, before it answers.
    up.wait_for_requests(1).await;
    drop(s);
    // The exchange finishes without the provider and settles the claim as
    // delivered: the provider's retry is a duplicate — not a 409 until the
    // lease runs out, and not a second delivery.
    eventually("the claim to settle", PATIENCE, || async {
        let a = post(&p, "/sw", &refs(&h), body).await;
        if a.status == 409 {
            return Err(a.text());
        }
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
        Ok(())
    })
    .await;
    assert_eq!(up.count(), 1);
    // The request the provider abandoned still runs to its end and is
    // accounted for (metrics and its audit line are written together).
    let forwarded = r#"hookguard_requests_total{route="/sw",outcome="forwarded",code="none"} 1"#;
    eventually(forwarded, PATIENCE, || async {
        let metrics = p.app().metrics().encode(0);
        metrics.contains(forwarded).then_some(()).ok_or(metrics)
    })
    .await;
}

#[tokio::test]
async fn upstream_failure_releases_the_key_so_a_retry_goes_through() {
    let up = Upstream::start().await;
    up.set(Behavior {
        status: 500,
        ..Behavior::default()
    });
    let p = proxy(&base().build(), &up).await;
    let body = br#"{"n":3}"#;
    let h = sw_headers("msg_retry", now_secs(), body);
    let a = post(&p, "/sw", &refs(&h), body).await;
    assert_eq!(a.status, 500, "the upstream's status is relayed");
    up.set(Behavior::default());
    let a = post(&p, "/sw", &refs(&h), body).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.text(), "ok from upstream");
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn row_upstream_unreachable_502() {
    // A port that was just free: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let up = Upstream::start().await;
    let cfg = base().upstream_url(&format!("http://{closed}")).build();
    let p = proxy(&cfg, &up).await;
    let a = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_rejected(&a, 502, "upstream_unreachable");
    // The failure released the key: the retry is tried again (not a duplicate).
    let a = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_rejected(&a, 502, "upstream_unreachable");
}

#[tokio::test]
async fn row_upstream_timeout_504() {
    let up = Upstream::start().await;
    up.set(Behavior {
        delay: Duration::from_secs(2),
        ..Behavior::default()
    });
    let p = proxy(&base().build(), &up).await;
    let a = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_rejected(&a, 504, "upstream_timeout");
}

#[tokio::test]
async fn forwarding_is_byte_identical_and_headers_are_rewritten() {
    let up = Upstream::start().await;
    up.set(Behavior {
        status: 201,
        body: "created",
        ..Behavior::default()
    });
    let p = proxy(&base().build(), &up).await;
    // JSON that any parse-and-reserialise would change: spacing, key order,
    // a unicode escape, a duplicate key and a trailing newline.
    let body: &[u8] = b"{\"z\": 1,  \"a\":\"\\u00e9\" ,\"a\":2,\n \"n\":1.0e0}\n";
    let sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[body]));
    let a = post(
        &p,
        "/rewrite?x=1&y=%20",
        &[
            ("x-hub-signature-256", &sig),
            ("x-github-event", "push"),
            ("x-hookguard-verified", "forged"),
            ("x-hookguard-event-id", "forged"),
            ("connection", "x-private-hop"),
            ("x-private-hop", "secret-ish"),
        ],
        body,
    )
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.text(), "created");
    assert_eq!(a.headers["x-upstream"], "yes");

    let got = up.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(&r.body[..], body, "body must be byte-identical");
    assert_eq!(r.uri.path(), "/internal/hooks");
    assert_eq!(r.uri.query(), Some("x=1&y=%20"));
    assert_eq!(r.headers["x-hookguard-verified"], "github");
    assert!(r.headers.get("x-hookguard-event-id").is_none());
    assert!(r.headers.get("x-private-hop").is_none());
    assert_eq!(r.headers["x-github-event"], "push");
    assert_eq!(r.headers["x-hub-signature-256"], sig.as_str());
    assert_eq!(r.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(r.headers["x-forwarded-proto"], "http");
    assert_eq!(r.headers["x-forwarded-host"], p.addr.to_string().as_str());
    assert_eq!(r.headers["content-length"], body.len().to_string().as_str());
    // An HTTP/1.1 request as a client sends it: origin-form target, and
    // the upstream's own authority as Host.
    assert!(
        r.uri.scheme().is_none() && r.uri.authority().is_none(),
        "{}",
        r.uri
    );
    assert_eq!(r.headers["host"], up.addr.to_string().as_str());
}

#[tokio::test]
async fn body_arriving_in_several_chunks_is_verified_and_forwarded_whole() {
    // Each chunk is written after a pause, so hyper hands the body over as
    // several frames: hashed and sent on in order, never half-forwarded.
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let body: Vec<u8> = (0..900u32).map(|i| b'a' + (i % 26) as u8).collect();
    let sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[&body[..]]));
    let head = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {sig}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(300) {
        // The pause is the scenario (a sender whose chunks arrive apart).
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        s.write_all(&chunk).await.unwrap();
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let text = rest_of_answer(&mut s).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, body);
    // Sent on with its length known, not re-chunked.
    assert_eq!(got[0].headers["content-length"], "900");
    assert!(got[0].headers.get("transfer-encoding").is_none());
}

#[tokio::test]
async fn expect_100_continue_is_answered_here_and_not_sent_upstream() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    // What curl sends for a body over 1 KiB: the head alone, then the body
    // only once the proxy says `100 Continue`.
    let head = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        GH_BODY.len()
    );
    let (mut s, interim) = first_answer(&p, &head, "100 Continue before the body").await;
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    s.write_all(GH_BODY).await.unwrap();
    let text = rest_of_answer(&mut s).await;
    assert!(text.contains("HTTP/1.1 200"), "{text}");

    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].body[..], GH_BODY);
    // The body is already here: an upstream asked to `100 Continue` would
    // only add a round trip (or, if it never answers 100, a stall).
    assert!(
        got[0].headers.get("expect").is_none(),
        "{:?}",
        got[0].headers
    );
}

#[tokio::test]
async fn upstream_connections_are_kept_alive_and_closed_ones_never_reused() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let send = |i: usize| {
        let p = &p;
        async move {
            let body = format!("{{\"n\":{i}}}");
            let sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[body.as_bytes()]));
            post(
                p,
                "/gh",
                &[("x-hub-signature-256", sig.as_str())],
                body.as_bytes(),
            )
            .await
        }
    };
    for i in 0..5 {
        assert_eq!(send(i).await.status, 200);
    }
    assert_eq!(
        up.connections(),
        1,
        "one keep-alive connection for sequential requests"
    );
    // An upstream that closes after every answer: no request fails on a
    // connection it closed, and each answer costs a new connection.
    up.set(Behavior {
        close: true,
        ..Behavior::default()
    });
    for i in 5..10 {
        assert_eq!(send(i).await.status, 200, "request {i}");
    }
    assert_eq!(
        up.count(),
        10,
        "every request reached the upstream exactly once"
    );
    assert_eq!(up.connections(), 5);
}

#[tokio::test]
async fn event_id_header_is_set_from_the_signed_id() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let body = br#"{"n":4}"#;
    let h = sw_headers("msg_evt_42", now_secs(), body);
    let a = post(&p, "/sw", &refs(&h), body).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        up.received()[0].headers["x-hookguard-event-id"],
        "msg_evt_42"
    );
    assert_eq!(
        up.received()[0].headers["x-hookguard-verified"],
        "standard-webhooks"
    );
}

#[tokio::test]
async fn missing_host_on_http11_is_400_and_garbage_never_panics() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let text = raw(
        &p,
        b"POST /gh HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Then::Wait,
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains(r#"{"error":"bad_request"}"#), "{text}");

    // Malformed signature headers of every shape get a 401, never a crash.
    let huge = "a".repeat(8000);
    let cases: Vec<Vec<u8>> = vec![
        b"x-hub-signature-256: \r\n".to_vec(),
        b"x-hub-signature-256: sha256=\r\n".to_vec(),
        b"x-hub-signature-256: sha256=zz\r\n".to_vec(),
        b"x-hub-signature-256: sha256=abc\r\n".to_vec(),
        format!("x-hub-signature-256: sha256={huge}\r\n").into_bytes(),
        b"x-hub-signature-256: \xff\xfe\x80\r\n".to_vec(),
        format!("x-hub-signature-256: {GH_SIG}\r\nx-hub-signature-256: {GH_SIG}\r\n").into_bytes(),
    ];
    for case in cases {
        let mut req =
            b"POST /gh HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 13\r\n".to_vec();
        req.extend_from_slice(&case);
        req.extend_from_slice(b"\r\nHello, World?");
        let text = raw(&p, &req, Then::Wait).await;
        assert!(
            text.starts_with("HTTP/1.1 401"),
            "{}: {text}",
            String::from_utf8_lossy(&case)
        );
    }
    // Absurd timestamps: negative, overflowing, non-numeric.
    for ts in ["-1", "99999999999999999999999", "yesterday", ""] {
        let req = format!(
            "POST /ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\nx-timestamp: {ts}\r\nx-signature: 00\r\n\r\n{{}}"
        );
        let text = raw(&p, req.as_bytes(), Then::Wait).await;
        assert!(text.starts_with("HTTP/1.1 401"), "ts {ts:?}: {text}");
    }
    // The proxy is still serving.
    let a = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn slow_client_is_cut_off_by_request_timeout() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(
        format!("POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nContent-Length: 13\r\n\r\nHel")
            .as_bytes(),
    )
    .await
    .unwrap();
    // Never send the rest: request_timeout is 2s.
    let mut out = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("cut off within the request timeout");
    assert!(n.is_ok());
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn body_cut_short_by_the_client_is_never_forwarded() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    // GH_BODY is 13 bytes; send 5 of them and close the sending side.
    let request = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nContent-Length: 13\r\n\r\nHello"
    );
    let text = raw(&p, request.as_bytes(), Then::Close).await;
    assert!(
        text.starts_with("HTTP/1.1 400") && text.ends_with(r#"{"error":"bad_request"}"#),
        "a partial body is refused, never verified or forwarded: {text}"
    );
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn silent_connection_is_closed_after_request_timeout() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    // Send nothing at all: the slot is given back after request_timeout (2s).
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("a silent connection is closed");
    assert!(read.is_ok(), "{read:?}");
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_on_plain_tcp() {
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let h2c: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http();
    let req = http::Request::post(format!("http://{}/gh", p.addr))
        .header("x-hub-signature-256", GH_SIG)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            GH_BODY,
        )))
        .unwrap();
    let resp = h2c.request(req).await.expect("h2c request");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(up.received()[0].body, GH_BODY);
}

#[tokio::test]
async fn http1_request_arriving_a_byte_at_a_time_is_served() {
    // The first bytes of "POST" and of the HTTP/2 preface ("PRI") are the
    // same: the protocol must not be decided on them.
    let up = Upstream::start().await;
    let p = proxy(&base().build(), &up).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    let request = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!"
    );
    for chunk in request.as_bytes().chunks(1).take(4) {
        s.write_all(chunk).await.unwrap();
        // The pause is the scenario: each byte arrives on its own.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.write_all(&request.as_bytes()[4..]).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("answered")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(up.received()[0].body, GH_BODY);
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let up = Upstream::start().await;
    up.set(Behavior {
        delay: Duration::from_millis(400),
        ..Behavior::default()
    });
    let p = proxy(&base_with_upstream_timeout("5s").build(), &up).await;
    let addr = p.addr;
    let in_flight = tokio::spawn(async move {
        let req = http::Request::post(format!("http://{addr}/gh"))
            .header("x-hub-signature-256", GH_SIG)
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                GH_BODY,
            )))
            .unwrap();
        client().request(req).await.map(|r| r.status())
    });
    up.wait_for_requests(1).await;
    assert!(p.shutdown().await, "drained within the grace period");
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}
