//! Header rules at the trust boundary: who the client is, and which headers
//! may cross from the provider to the app.
//!
//! - The client IP is the socket peer. `X-Forwarded-For` (or, without one,
//!   RFC 7239 `Forwarded`: `forwarded`) is read only when the peer is a
//!   trusted proxy, right to left, skipping trusted hops: a client can write
//!   anything into that header, so its leftmost entry is never believed on
//!   its own.
//! - Hop-by-hop headers (RFC 9110 §7.6.1, plus those named by `Connection`)
//!   are dropped in both directions; every inbound `X-Hookguard-*` header is
//!   dropped so a caller cannot forge a verification result.
//! - Only header names made of letters, digits and `-` reach the upstream.
//!   CGI, WSGI, Rack and PHP turn `-` into `_` (some servers any other
//!   character too), so `X_Hookguard_Verified` or `X.Hookguard.Verified`
//!   would reach the app as `HTTP_X_HOOKGUARD_VERIFIED` beside, or instead
//!   of, the header hookguard sets. nginx drops such names by default
//!   (`underscores_in_headers off`, `ignore_invalid_headers on`) and Apache
//!   2.4 refuses to export them; no provider sends one. They are dropped
//!   only on the way out: a verifier still reads what it was configured to.
//! - From a peer that is not a trusted proxy, headers describing the
//!   original request (`X-Forwarded-*`, `Forwarded`, `X-Real-IP` and its
//!   kin, `X-Original-URL`, method overrides) are dropped: only a proxy in
//!   front of hookguard may state them, and frameworks believe them.

use std::net::IpAddr;

use super::forwarded;
use crate::ip_text::IpText;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

/// `X-Hookguard-Verified: <provider>`, set on every forwarded request.
pub(crate) const X_HOOKGUARD_VERIFIED: HeaderName = HeaderName::from_static("x-hookguard-verified");
pub(crate) use crate::upstream::headers::X_HOOKGUARD_EVENT_ID;
/// `X-Forwarded-For`.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

const HOOKGUARD_PREFIX: &str = "x-hookguard-";

/// Hop-by-hop headers that never cross the proxy.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The client's address: the peer, or — only when the peer is trusted — the
/// rightmost untrusted address its forwarding header names.
///
/// That header is `X-Forwarded-For` when the request has one, else RFC 7239
/// `Forwarded`; never both. A proxy maintains one of them (nginx, cloud
/// balancers, HAProxy's `forwardfor`: `X-Forwarded-For`; a few only
/// `Forwarded`) and passes the other through as the client wrote it, so
/// reading both would let a client name itself. `X-Forwarded-For` decides
/// because almost every proxy maintains it: preferring `Forwarded` would
/// let any client behind one of those write its own address there.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    if headers.contains_key(&X_FORWARDED_FOR) {
        rightmost_untrusted(
            peer,
            headers.get_all(&X_FORWARDED_FOR),
            parse_forwarded_ip,
            trusted,
        )
    } else {
        rightmost_untrusted(
            peer,
            headers.get_all(&forwarded::FORWARDED),
            forwarded::element_for_ip,
            trusted,
        )
    }
}

/// Walks a forwarding header's entries right to left from the (trusted)
/// `peer`, skipping trusted hops: the first untrusted address is the
/// client. An entry that names no address (garbage, `unknown`, an
/// obfuscated identifier) ends the walk at the last hop that could be
/// verified. Several header lines form one list, in order.
fn rightmost_untrusted(
    peer: IpAddr,
    lines: http::header::GetAll<'_, HeaderValue>,
    entry_ip: fn(&str) -> Option<IpAddr>,
    trusted: &[IpNet],
) -> IpAddr {
    let mut client = peer;
    for line in lines.into_iter().rev() {
        let Ok(list) = line.to_str() else {
            return client;
        };
        for entry in list.rsplit(',') {
            match entry_ip(entry) {
                Some(ip) if is_trusted(ip, trusted) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
    }
    client
}

/// Whether `ip` is one of the `trusted_proxies`.
pub(crate) fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 peers (dual-stack sockets) compare as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Parses one `X-Forwarded-For` entry: a bare address, `[v6]`, or `v4:port`.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6.parse().ok().map(canonical);
    }
    let (host, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// True when `ip` is inside one of `allowed`; an empty list allows all.
pub(crate) fn ip_allowed(ip: IpAddr, allowed: &[IpNet]) -> bool {
    allowed.is_empty() || is_trusted(ip, allowed)
}

/// Headers with which a proxy in front states facts about the original
/// request: its client (`Forwarded`, `X-Real-IP` and the names frameworks
/// and CDNs use for it), its URL (`X-Original-URL`, `X-Rewrite-URL`, read
/// by IIS and Symfony) and its method (`X-HTTP-Method-Override` and its
/// variants, read by many frameworks on POST). All `X-Forwarded-*` count
/// too. Believed only from a trusted proxy.
fn describes_original_request(name: &str) -> bool {
    name.starts_with("x-forwarded-")
        || matches!(
            name,
            "forwarded"
                | "x-real-ip"
                | "client-ip"
                | "true-client-ip"
                | "x-client-ip"
                | "x-cluster-client-ip"
                | "cf-connecting-ip"
                | "fastly-client-ip"
                | "x-original-url"
                | "x-original-uri"
                | "x-rewrite-url"
                | "x-http-method-override"
                | "x-http-method"
                | "x-method-override"
        )
}

/// A name every server maps to exactly one variable: lower-case letters
/// (hyper lower-cases names), digits and `-`.
fn is_plain_name(name: &str) -> bool {
    // A table and no early exit: a third of the instructions of a chain of
    // comparisons with one, on names that are almost always plain.
    name.bytes()
        .fold(true, |plain, b| plain & PLAIN[usize::from(b)])
}

/// Which bytes [`is_plain_name`] accepts.
static PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
        b += 1;
    }
    table
};

/// Whether an inbound header must not reach the upstream (hop-by-hop
/// headers aside).
fn dropped_before_forwarding(name: &HeaderName, peer_trusted: bool) -> bool {
    let text = name.as_str();
    *name == header::EXPECT
        || text.starts_with(HOOKGUARD_PREFIX)
        || !is_plain_name(text)
        || (!peer_trusted && describes_original_request(text))
}

/// Removes hop-by-hop headers, including any listed in `Connection`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names costs less than
    // hashing each of the eight for a removal.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// Prepares inbound headers for the upstream: hop-by-hop and `X-Hookguard-*`
/// removed, `Expect` removed (the body is already read: the upstream must not
/// be asked to send `100 Continue`, nginx drops it too), names other than
/// letters, digits and `-` removed, the original request's description
/// removed unless `peer_trusted`, `Host` left for the client to set from the
/// upstream URL, and the `X-Forwarded-*` set describing the original request.
pub fn prepare_upstream(
    headers: &mut HeaderMap,
    forwarded_for: Option<HeaderValue>,
    proto: &'static str,
    host: Option<HeaderValue>,
    peer_trusted: bool,
) {
    strip_hop_by_hop(headers);
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| dropped_before_forwarding(name, peer_trusted))
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(name);
    }
    headers.remove(header::HOST);
    match forwarded_for {
        Some(value) => headers.insert(X_FORWARDED_FOR, value),
        None => headers.remove(X_FORWARDED_FOR),
    };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    match host {
        Some(host) => headers.insert(X_FORWARDED_HOST, host),
        None => headers.remove(X_FORWARDED_HOST),
    };
}

/// Removes the route's shared credential (a token scheme's token or
/// `Authorization` header) from what goes upstream: the app has no use for
/// it once verified, and every copy of a reusable credential is one more
/// place it can leak from (app logs, error trackers). `None` keeps all.
pub(crate) fn drop_credential(headers: &mut HeaderMap, credential: Option<&HeaderName>) {
    if let Some(name) = credential {
        headers.remove(name);
    }
}

/// The `X-Forwarded-For` value to send upstream: the chain we were given (only
/// if the peer is trusted — [`is_trusted`], decided once by the caller for
/// this and `Forwarded` — else none of it) with the peer appended.
pub(crate) fn forwarded_for_chain(
    peer: IpAddr,
    peer_trusted: bool,
    headers: &HeaderMap,
) -> Option<HeaderValue> {
    let peer = canonical(peer);
    if !peer_trusted {
        // The common case: the chain is the peer alone, copied once into
        // the header value (no intermediate `String`).
        return HeaderValue::from_str(IpText::new(peer).as_str()).ok();
    }
    let mut chain = String::new();
    for value in headers.get_all(&X_FORWARDED_FOR) {
        if let Ok(v) = value.to_str() {
            if !chain.is_empty() {
                chain.push_str(", ");
            }
            chain.push_str(v.trim());
        }
    }
    if !chain.is_empty() {
        chain.push_str(", ");
    }
    chain.push_str(IpText::new(peer).as_str());
    HeaderValue::try_from(chain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peer_ignores_forwarded_for() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &nets(&["10.0.0.0/8"])), peer);
    }

    #[test]
    fn trusted_peer_reads_right_to_left_skipping_trusted_hops() {
        // The leftmost entry is attacker-controlled; 198.51.100.7 is the first
        // untrusted hop seen from the right.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3")]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(peer, &h, &nets(&["10.0.0.0/8"])),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn several_forwarded_for_headers_form_one_list() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.3"),
        ]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(peer, &h, &nets(&["10.0.0.0/8"])),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn garbage_stops_at_last_verified_hop() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1, not-an-ip, 10.0.0.3")]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(peer, &h, &nets(&["10.0.0.0/8"])),
            "10.0.0.3".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_is_read_only_without_x_forwarded_for() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let only = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::7]:80\", for=10.0.0.3",
        )]);
        assert_eq!(
            client_ip(peer, &only, &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        let hidden = headers(&[("forwarded", "for=6.6.6.6, for=_hidden, for=10.0.0.3")]);
        assert_eq!(
            client_ip(peer, &hidden, &trusted),
            "10.0.0.3".parse::<IpAddr>().unwrap()
        );
        for pairs in [
            [
                ("x-forwarded-for", "198.51.100.7"),
                ("forwarded", "for=6.6.6.6"),
            ],
            [
                ("forwarded", "for=6.6.6.6"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
        ] {
            let both = headers(&pairs);
            assert_eq!(
                client_ip(peer, &both, &trusted),
                "198.51.100.7".parse::<IpAddr>().unwrap()
            );
        }
        let untrusted: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(untrusted, &only, &trusted), untrusted);
    }

    #[test]
    fn forwarded_entries_with_ports_and_brackets() {
        assert_eq!(parse_forwarded_ip(" 1.2.3.4:567 "), "1.2.3.4".parse().ok());
        assert_eq!(
            parse_forwarded_ip("[2001:db8::1]:80"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(parse_forwarded_ip("::ffff:1.2.3.4"), "1.2.3.4".parse().ok());
        assert_eq!(parse_forwarded_ip("unknown"), None);
    }

    #[test]
    fn upstream_headers_drop_hop_by_hop_and_forged_hookguard_headers() {
        let mut h = headers(&[
            ("connection", "close, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("x-hookguard-verified", "forged"),
            ("X-Hookguard-Anything", "forged"),
            ("host", "hooks.example.com"),
            ("expect", "100-continue"),
            ("x-github-event", "push"),
        ]);
        let host = h.get("host").cloned();
        prepare_upstream(
            &mut h,
            HeaderValue::from_str("203.0.113.9").ok(),
            "https",
            host,
            false,
        );
        for gone in [
            "connection",
            "x-custom-hop",
            "keep-alive",
            "transfer-encoding",
            "x-hookguard-verified",
            "x-hookguard-anything",
            "host",
            "expect",
        ] {
            assert!(!h.contains_key(gone), "{gone} should be dropped");
        }
        assert_eq!(h["x-github-event"], "push");
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "hooks.example.com");
    }

    /// What a CGI/WSGI/Rack/PHP app reads: `HTTP_` and the name upper-cased
    /// with `-` (here also any other non-alphanumeric byte) as `_`, repeats
    /// joined with `,` (as Python's `wsgiref` does).
    fn cgi_view(h: &HeaderMap) -> std::collections::BTreeMap<String, String> {
        let mut env = std::collections::BTreeMap::<String, String>::new();
        for (name, value) in h {
            let key: String = name
                .as_str()
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' => char::from(b.to_ascii_uppercase()),
                    b'0'..=b'9' => char::from(b),
                    _ => '_',
                })
                .collect();
            let value = value.to_str().unwrap_or("?");
            env.entry(format!("HTTP_{key}"))
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
        env
    }

    /// Inbound headers an attacker adds to a genuine request, spelled so that
    /// a CGI-style app folds them onto names hookguard strips or sets.
    const SPOOFED: [(&str, &str); 19] = [
        ("X_Hookguard_Verified", "stripe"),
        ("X_Hookguard_Event_Id", "evt_attacker"),
        ("x.hookguard.verified", "stripe"),
        ("X_Forwarded_For", "10.6.6.6"),
        ("X_Forwarded_Proto", "https"),
        ("x-forwarded-for", "10.6.6.7"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-prefix", "/admin"),
        ("Forwarded", "for=10.6.6.6;proto=https"),
        ("X-Real-IP", "10.6.6.6"),
        ("X_Real_IP", "10.6.6.6"),
        ("True-Client-IP", "10.6.6.6"),
        ("X-Original-URL", "/admin"),
        ("X-Rewrite-URL", "/admin"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("X-HTTP-Method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        ("X_HTTP_Method_Override", "DELETE"),
        ("webhook_id", "msg_attacker"),
    ];

    fn prepared(extra: &[(&str, &str)], peer_trusted: bool) -> HeaderMap {
        let mut pairs = vec![("webhook-id", "msg_1"), ("x-github-event", "push")];
        pairs.extend_from_slice(extra);
        let mut h = headers(&pairs);
        prepare_upstream(
            &mut h,
            HeaderValue::from_str("203.0.113.9").ok(),
            "https",
            HeaderValue::from_str("hooks.example.com").ok(),
            peer_trusted,
        );
        h.insert(X_HOOKGUARD_VERIFIED, HeaderValue::from_static("github"));
        h
    }

    #[test]
    fn names_folding_onto_protected_ones_never_reach_the_app() {
        for peer_trusted in [false, true] {
            let h = prepared(&SPOOFED, peer_trusted);
            let env = cgi_view(&h);
            assert_eq!(env["HTTP_X_HOOKGUARD_VERIFIED"], "github");
            assert!(!env.contains_key("HTTP_X_HOOKGUARD_EVENT_ID"), "{env:?}");
            assert_eq!(env["HTTP_WEBHOOK_ID"], "msg_1");
            assert_eq!(env["HTTP_X_FORWARDED_PROTO"], "https");
            for name in h.keys() {
                assert!(is_plain_name(name.as_str()), "{name} forwarded");
            }
        }
    }

    #[test]
    fn untrusted_peers_cannot_describe_the_original_request() {
        let h = prepared(&SPOOFED, false);
        let env = cgi_view(&h);
        assert_eq!(env["HTTP_X_FORWARDED_FOR"], "203.0.113.9");
        assert_eq!(env["HTTP_X_FORWARDED_HOST"], "hooks.example.com");
        for gone in [
            "HTTP_X_FORWARDED_PORT",
            "HTTP_X_FORWARDED_PREFIX",
            "HTTP_FORWARDED",
            "HTTP_X_REAL_IP",
            "HTTP_TRUE_CLIENT_IP",
            "HTTP_X_ORIGINAL_URL",
            "HTTP_X_REWRITE_URL",
            "HTTP_X_HTTP_METHOD_OVERRIDE",
            "HTTP_X_HTTP_METHOD",
            "HTTP_X_METHOD_OVERRIDE",
        ] {
            assert!(!env.contains_key(gone), "{gone} forwarded: {env:?}");
        }
        assert_eq!(env["HTTP_X_GITHUB_EVENT"], "push");
    }

    #[test]
    fn a_trusted_proxy_may_describe_the_original_request() {
        let h = prepared(&SPOOFED, true);
        assert_eq!(h["forwarded"], "for=10.6.6.6;proto=https");
        assert_eq!(h["x-real-ip"], "10.6.6.6");
        assert_eq!(h["x-forwarded-port"], "443");
        assert_eq!(h["x-original-url"], "/admin");
        assert_eq!(h["x-http-method-override"], "DELETE");
        // The chain is still the one hookguard built, not the one sent.
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert!(!h.contains_key("x_real_ip"));
    }

    #[test]
    fn only_letters_digits_and_hyphens_are_plain() {
        assert!(is_plain_name("x-hub-signature-256"));
        for name in [
            "x_a", "x.a", "x~a", "x!a", "x'a", "x+a", "x|a", "x*a", "x#a",
        ] {
            assert!(!is_plain_name(name), "{name}");
        }
    }

    #[test]
    fn forwarded_chain_only_kept_from_trusted_peers() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        let trusted = nets(&["10.0.0.0/8"]);
        let chain = |peer: &str| {
            let peer: IpAddr = peer.parse().unwrap();
            forwarded_for_chain(peer, is_trusted(peer, &trusted), &h).unwrap()
        };
        assert_eq!(chain("10.0.0.2"), "1.1.1.1, 10.0.0.2");
        assert_eq!(chain("8.8.8.8"), "8.8.8.8");
    }
}
