//! RFC 7239 `Forwarded`: the client address a trusted proxy states in it,
//! and the element hookguard appends for the upstream.
//!
//! Only the `for=` node of each element is read. A node is an IPv4 address,
//! a bracketed IPv6 address (quoted, since `[` and `:` are not token
//! characters), either with an optional port, `unknown`, or an obfuscated
//! identifier (`_hidden`). Elements are split at every `,`, also inside a
//! quoted string: no valid `for=` node holds a comma, and a client must
//! not be able to change how the elements a trusted proxy appended on the
//! right are read by writing an open quote on the left. An element that
//! cannot be read (no `for=`, two of them, a malformed node) reads as no
//! address, like `unknown`: the walk in `headers::client_ip` stops there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::headers::canonical;
use crate::ip_text::IpText;

/// `Forwarded`.
pub(crate) const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// The address in one element's `for=` node; `None` for `unknown`, an
/// obfuscated identifier, or anything that is not a valid element.
pub(crate) fn element_for_ip(element: &str) -> Option<IpAddr> {
    let mut node = None;
    for pair in element.split(';') {
        let (name, value) = pair.trim().split_once('=')?;
        if name.eq_ignore_ascii_case("for") {
            if node.is_some() {
                return None; // RFC 7239 §4: a parameter at most once per element
            }
            node = Some(unquote(value)?);
        }
    }
    node_ip(node?)
}

/// A value as a token, or a quoted string without escapes (no node needs
/// one).
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(rest) => {
            let inner = rest.strip_suffix('"')?;
            (!inner.contains(['"', '\\'])).then_some(inner)
        }
        None => Some(value),
    }
}

/// `nodename [ ":" node-port ]` (RFC 7239 §6) as an address, when the name
/// is one.
fn node_ip(node: &str) -> Option<IpAddr> {
    let (ip, port) = match node.strip_prefix('[') {
        Some(rest) => {
            let (v6, port) = rest.split_once(']')?;
            (IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?), port)
        }
        None => {
            let end = node.find(':').unwrap_or(node.len());
            (
                IpAddr::V4(node[..end].parse::<Ipv4Addr>().ok()?),
                &node[end..],
            )
        }
    };
    valid_port(port).then(|| canonical(ip))
}

/// Nothing, or `:` and a port: 1 to 5 digits, or an obfuscated one (`_`
/// and letters, digits, `.`, `_`, `-`).
fn valid_port(port: &str) -> bool {
    let Some(port) = port.strip_prefix(':') else {
        return port.is_empty();
    };
    let numeric = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    numeric || obfuscated
}

/// The `Forwarded` value to send upstream: the elements a trusted peer sent
/// (none from any other peer), then hookguard's own:
/// `for=<peer>;proto=<scheme>[;host=<host>]`.
pub(crate) fn forwarded_chain(
    peer: IpAddr,
    peer_trusted: bool,
    headers: &HeaderMap,
    proto: &str,
    host: Option<&HeaderValue>,
) -> Option<HeaderValue> {
    // One allocation: hookguard's element is at most about 80 bytes and
    // the host.
    let host_len = host.map_or(0, HeaderValue::len);
    let mut chain = String::with_capacity(80 + host_len);
    if peer_trusted {
        for value in headers.get_all(&FORWARDED) {
            if let Ok(v) = value.to_str() {
                chain.push_str(v.trim());
                chain.push_str(", ");
            }
        }
    }
    push_element(&mut chain, canonical(peer), proto, host);
    HeaderValue::try_from(chain).ok()
}

/// Appends `for=...;proto=...;host=...`, quoting what is not a token.
fn push_element(out: &mut String, peer: IpAddr, proto: &str, host: Option<&HeaderValue>) {
    let ip = IpText::new(peer);
    match peer {
        IpAddr::V4(_) => {
            out.push_str("for=");
            out.push_str(ip.as_str());
        }
        IpAddr::V6(_) => {
            // RFC 7239 §6: IPv6 in brackets, and so in quotes.
            out.push_str("for=\"[");
            out.push_str(ip.as_str());
            out.push_str("]\"");
        }
    }
    out.push_str(";proto=");
    out.push_str(proto);
    if let Some(host) = host.and_then(|h| h.to_str().ok()).filter(|h| !h.is_empty()) {
        out.push_str(";host=");
        push_value(out, host);
    }
}

/// A token as it is; anything else as a quoted string (`"` and `\`
/// escaped).
fn push_value(out: &mut String, value: &str) {
    if value.bytes().all(|b| TCHAR[usize::from(b)]) {
        out.push_str(value);
        return;
    }
    out.push('"');
    let mut from = 0;
    for (i, b) in value.bytes().enumerate() {
        if matches!(b, b'"' | b'\\') {
            out.push_str(&value[from..i]);
            out.push('\\');
            from = i; // the escaped byte starts the next run
        }
    }
    out.push_str(&value[from..]);
    out.push('"');
}

/// RFC 9110 §5.6.2 token characters, as a table: the host is checked on
/// every request.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn for_nodes_in_every_form_rfc_7239_gives() {
        // RFC 7239 §4 and §7.4 examples.
        assert_eq!(element_for_ip("for=192.0.2.43"), ip("192.0.2.43"));
        assert_eq!(
            element_for_ip("For=\"[2001:db8:cafe::17]\""),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            element_for_ip(" for=\"[2001:db8:cafe::17]:4711\" "),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(element_for_ip("for=\"192.0.2.43:47011\""), ip("192.0.2.43"));
        assert_eq!(
            element_for_ip("for=192.0.2.60;proto=http;by=203.0.113.43"),
            ip("192.0.2.60")
        );
        assert_eq!(
            element_for_ip("proto=https; for=198.51.100.17"),
            ip("198.51.100.17")
        );
        assert_eq!(
            element_for_ip("for=\"[::ffff:192.0.2.1]\""),
            ip("192.0.2.1")
        );
        assert_eq!(
            element_for_ip("for=\"192.0.2.43:_port-1\""),
            ip("192.0.2.43")
        );
    }

    #[test]
    fn unknown_obfuscated_and_malformed_nodes_read_as_no_address() {
        for element in [
            "for=unknown",
            "for=_hidden",
            "for=\"_SEVKISEK\"",
            "proto=https",
            "for=192.0.2.1;for=192.0.2.2",
            "for=\"192.0.2.1",
            "for=\"192.0.2.1\\\"\"",
            "for=192.0.2.1:123456",
            "for=192.0.2.1:",
            "for=\"192.0.2.1:_\"", // an obfuscated port has a character after `_`
            "for=\"[2001:db8::1]x\"",
            "for=2001:db8::1",
            "for=",
            "",
            "for=1.2.3.4; garbage",
        ] {
            assert_eq!(element_for_ip(element), None, "{element:?}");
        }
    }

    #[test]
    fn outbound_elements_quote_ipv6_and_hosts_that_are_not_tokens() {
        let mut h = HeaderMap::new();
        h.append(FORWARDED, HeaderValue::from_static("for=198.51.100.7"));
        let host = HeaderValue::from_static("hooks.example.com:8443");
        let v4: IpAddr = "10.0.0.2".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            forwarded_chain(v4, true, &h, "https", Some(&host)).unwrap(),
            "for=198.51.100.7, for=10.0.0.2;proto=https;host=\"hooks.example.com:8443\""
        );
        assert_eq!(
            forwarded_chain(v6, false, &h, "http", None).unwrap(),
            "for=\"[2001:db8::1]\";proto=http"
        );
        let odd = HeaderValue::from_static("a\"b\\c");
        assert_eq!(
            forwarded_chain(v4, false, &h, "http", Some(&odd)).unwrap(),
            "for=10.0.0.2;proto=http;host=\"a\\\"b\\\\c\""
        );
        let plain = HeaderValue::from_static("hooks.example.com");
        assert_eq!(
            forwarded_chain(v4, false, &h, "http", Some(&plain)).unwrap(),
            "for=10.0.0.2;proto=http;host=hooks.example.com"
        );
    }

    proptest! {
        /// What hookguard writes, it reads back: every address, with any
        /// host without the list's separators (`,` and `;`, which no
        /// valid host holds), quoted or not.
        #[test]
        fn own_elements_read_back(
            bytes in proptest::array::uniform16(any::<u8>()),
            v4 in any::<bool>(),
            host in "[!-+\\--:<-~]{0,40}",
        ) {
            let peer = if v4 {
                IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
            } else {
                IpAddr::V6(Ipv6Addr::from(bytes))
            };
            let host = HeaderValue::from_str(&host).ok();
            let chain = forwarded_chain(peer, false, &HeaderMap::new(), "https", host.as_ref())
                .unwrap();
            let text = chain.to_str().unwrap();
            prop_assert_eq!(element_for_ip(text), Some(canonical(peer)), "{}", text);
        }

        /// No input panics, and an address read comes from a `for=` pair.
        #[test]
        fn any_text_reads_safely(element in "[ -~]{0,60}") {
            if element_for_ip(&element).is_some() {
                prop_assert!(element.to_ascii_lowercase().contains("for="));
            }
        }
    }
}
