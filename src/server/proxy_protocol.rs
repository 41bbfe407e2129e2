//! The PROXY protocol header (HAProxy's, version 1 text or version 2
//! binary) that a TCP load balancer sends before anything else on a
//! connection, carrying the client's address: reading exactly its bytes from
//! the socket and nothing after them, so the TLS handshake or HTTP that
//! follows reads the stream as the client sent it.
//!
//! The parsing is the `ppp` crate's; this file only frames the header (how
//! many bytes to wait for) and bounds it. Bytes are peeked, and consumed
//! only once they are known to belong to the header: all of a peek that
//! left the header incomplete, or exactly the header once it is complete.
//! Each round consumes what it peeked, so the next peek waits for new bytes
//! instead of returning the same ones at once.
//!
//! Whether a connection must send one is decided at accept: only a peer in
//! `trusted_proxies` may, and with the setting on, every other peer is
//! closed there, before any byte is read.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use ppp::{v1, v2, HeaderResult, PartialResult};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::{ProxyProtocol, ServerConfig};
use crate::proxy::{headers, App, ConnInfo};

/// The most header bytes read before refusing the connection. A version 1
/// header is at most 107 bytes; a version 2 one is 16 bytes plus its
/// addresses (at most 216, for Unix sockets) and TLVs, which balancers keep
/// short (AWS's VPC endpoint id, HAProxy's TLS facts): 4 KiB is ample, and
/// bounds what a trusted but broken peer can make a connection hold.
pub(super) const MAX_HEADER_BYTES: usize = 4096;

/// The start of a version 1 header.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest version 1 header, with its CRLF (the specification's bound).
const V1_MAX_BYTES: usize = 107;

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum HeaderError {
    #[error("the peer closed the connection before a whole PROXY header")]
    Closed,
    #[error("not a valid PROXY protocol {expected} header: {reason}")]
    Malformed {
        expected: &'static str,
        reason: String,
    },
    #[error("PROXY header longer than {MAX_HEADER_BYTES} bytes")]
    TooLong,
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl HeaderError {
    /// The `reason` label of `hookguard_proxy_protocol_refused_total`.
    pub(super) fn reason(&self) -> &'static str {
        match self {
            HeaderError::Closed | HeaderError::Io(_) => "closed",
            HeaderError::Malformed { .. } | HeaderError::TooLong => "malformed",
        }
    }
}

/// What a complete header says.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    /// The header's length, bytes.
    len: usize,
    /// The client's address; `None` when the header carries none to believe
    /// (version 2 `LOCAL`, a health check by the balancer itself; version 1
    /// `UNKNOWN`; Unix or unspecified addresses): the peer's address stands.
    source: Option<SocketAddr>,
}

/// Reads the PROXY header `accept` allows at the start of `stream`, leaving
/// every byte after it unread. Returns the client address it carries.
pub(super) async fn read_header(
    stream: &mut TcpStream,
    accept: ProxyProtocol,
) -> Result<Option<SocketAddr>, HeaderError> {
    let mut buf = vec![0u8; MAX_HEADER_BYTES];
    let mut consumed = 0;
    loop {
        let peeked = stream.peek(&mut buf[consumed..]).await?;
        if peeked == 0 {
            return Err(HeaderError::Closed);
        }
        let seen = consumed + peeked;
        if let Some(parsed) = parse(&buf[..seen], accept)? {
            stream.read_exact(&mut buf[consumed..parsed.len]).await?;
            return Ok(parsed.source);
        }
        if seen == MAX_HEADER_BYTES {
            return Err(HeaderError::TooLong);
        }
        // Incomplete: everything peeked is header, so take it off the socket.
        stream.read_exact(&mut buf[consumed..seen]).await?;
        consumed = seen;
    }
}

/// Parses the header at the start of `seen`: `None` while more bytes are
/// needed to tell.
fn parse(seen: &[u8], accept: ProxyProtocol) -> Result<Option<Parsed>, HeaderError> {
    let v1_line = starts_like_v1(seen);
    if v1_line && seen.len() < V1_MAX_BYTES && !seen.contains(&b'\n') {
        return Ok(None);
    }
    if declared_v2_len(seen).is_some_and(|len| len > MAX_HEADER_BYTES) {
        return Err(HeaderError::TooLong);
    }
    let result = match accept {
        ProxyProtocol::V1 => HeaderResult::V1(v1::Header::try_from(seen)),
        ProxyProtocol::V2 => HeaderResult::V2(v2::Header::try_from(seen)),
        ProxyProtocol::Any => HeaderResult::parse(seen),
    };
    // A whole v1 line that the parser finds short ("PROXY TCP4 a b\r\n"
    // lacks ports) will not grow: it is malformed, not incomplete.
    if result.is_incomplete() && !v1_line {
        return Ok(None);
    }
    let malformed = |reason: String| HeaderError::Malformed {
        expected: expected_name(accept),
        reason,
    };
    match result {
        HeaderResult::V1(Ok(header)) => Ok(Some(Parsed {
            len: header.header.len(),
            source: v1_source(&header.addresses),
        })),
        HeaderResult::V2(Ok(header)) => Ok(Some(Parsed {
            len: header.len(),
            source: v2_source(&header),
        })),
        HeaderResult::V1(Err(e)) => Err(malformed(e.to_string())),
        HeaderResult::V2(Err(e)) => Err(malformed(e.to_string())),
    }
}

/// Whether `seen` starts like a version 1 header. Such a header is given to
/// the parser only as a whole line (or once longer than a line may be): on
/// a part of one it may call a cut-off word ("TCP" of "TCP4") invalid
/// rather than incomplete.
fn starts_like_v1(seen: &[u8]) -> bool {
    seen.starts_with(V1_PREFIX) || V1_PREFIX.starts_with(seen)
}

/// The whole length a version 2 header declares, once its fixed part is in:
/// refused at once when over the cap, rather than waited for.
fn declared_v2_len(seen: &[u8]) -> Option<usize> {
    const FIXED: usize = 16;
    if seen.len() < FIXED || !seen.starts_with(v2::PROTOCOL_PREFIX) {
        return None;
    }
    Some(FIXED + usize::from(u16::from_be_bytes([seen[14], seen[15]])))
}

fn expected_name(accept: ProxyProtocol) -> &'static str {
    match accept {
        ProxyProtocol::V1 => "v1",
        ProxyProtocol::V2 => "v2",
        ProxyProtocol::Any => "v1 or v2",
    }
}

fn v1_source(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Unknown => None,
    }
}

fn v2_source(header: &v2::Header<'_>) -> Option<SocketAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match &header.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

/// The PROXY header a connection from `peer` must start with, if any; `Err`
/// when one is required and `peer` is not trusted to send it.
pub(super) fn expected_proxy_header(
    server: &ServerConfig,
    peer: SocketAddr,
) -> Result<Option<ProxyProtocol>, ()> {
    match server.proxy_protocol {
        None => Ok(None),
        Some(accept) if headers::is_trusted(peer.ip(), &server.trusted_proxies) => Ok(Some(accept)),
        Some(_) => Err(()),
    }
}

/// Counts and logs a connection refused for coming from a peer not in
/// `trusted_proxies` while the PROXY protocol is on. The first is a warning
/// (a balancer missing from the list, or the port reachable around it); the
/// rest are debug lines, so a scan cannot flood the log.
pub(super) fn refuse_untrusted_peer(app: &App, peer: SocketAddr) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    app.metrics().proxy_protocol_refused("untrusted_peer");
    if WARNED.swap(true, Ordering::Relaxed) {
        tracing::debug!(%peer, "closed: PROXY protocol peer not in trusted_proxies");
    } else {
        tracing::warn!(
            %peer,
            "closed a connection from a peer not in server.trusted_proxies: with \
             proxy_protocol on, only trusted balancers may connect (further ones are \
             logged at debug and counted in hookguard_proxy_protocol_refused_total)"
        );
    }
}

/// Reads the PROXY header when `header` asks for one, and returns `conn`
/// with the client address it carries as the peer; `None` when the
/// connection is to be closed (counted and logged at debug).
pub(super) async fn believe_header(
    stream: &mut TcpStream,
    header: Option<ProxyProtocol>,
    mut conn: ConnInfo,
    deadline: Instant,
    apps: &ArcSwap<App>,
) -> Option<ConnInfo> {
    let Some(accept) = header else {
        return Some(conn);
    };
    let peer = conn.peer;
    let reading = read_header(stream, accept);
    let reason = match tokio::time::timeout_at(deadline, reading).await {
        Ok(Ok(source)) => {
            conn.peer = source.unwrap_or(peer);
            return Some(conn);
        }
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "closed: PROXY header refused");
            e.reason()
        }
        Err(_) => {
            tracing::debug!(%peer, "closed: no PROXY header before the deadline");
            "timeout"
        }
    };
    apps.load().metrics().proxy_protocol_refused(reason);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_header(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut h = v2::PROTOCOL_PREFIX.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&u16::try_from(addresses.len()).unwrap().to_be_bytes());
        h.extend_from_slice(addresses);
        h
    }

    const V4_ADDRESSES: [u8; 12] = [192, 30, 252, 1, 10, 0, 0, 1, 0x30, 0x39, 1, 187];

    #[test]
    fn a_v1_header_ends_at_its_crlf_and_carries_the_source() {
        let seen = b"PROXY TCP4 192.30.252.1 10.0.0.1 12345 443\r\nGET / HTTP/1.1\r\n";
        let parsed = parse(seen, ProxyProtocol::Any).unwrap().unwrap();
        assert_eq!(parsed.len, 44);
        assert_eq!(parsed.source, Some("192.30.252.1:12345".parse().unwrap()));
        let v6 = b"PROXY TCP6 2606:50c0::1 ::1 1 2\r\n";
        let parsed = parse(v6, ProxyProtocol::V1).unwrap().unwrap();
        assert_eq!(parsed.source, Some("[2606:50c0::1]:1".parse().unwrap()));
        let unknown = parse(b"PROXY UNKNOWN\r\n", ProxyProtocol::V1).unwrap();
        assert_eq!(unknown.map(|p| p.source), Some(None));
    }

    #[test]
    fn a_v2_header_is_framed_by_its_length() {
        let mut seen = v2_header(1, 0x11, &V4_ADDRESSES);
        let len = seen.len();
        seen.extend_from_slice(b"\x16\x03\x01"); // a ClientHello follows
        let parsed = parse(&seen, ProxyProtocol::V2).unwrap().unwrap();
        assert_eq!(parsed.len, len);
        assert_eq!(parsed.source, Some("192.30.252.1:12345".parse().unwrap()));
    }

    #[test]
    fn local_and_addressless_headers_leave_the_peer_address() {
        let local = v2_header(0, 0x11, &V4_ADDRESSES);
        let parsed = parse(&local, ProxyProtocol::Any).unwrap().unwrap();
        assert_eq!(parsed.source, None);
        let unspecified = v2_header(1, 0x00, &[]);
        let parsed = parse(&unspecified, ProxyProtocol::V2).unwrap().unwrap();
        assert_eq!(parsed.source, None);
    }

    #[test]
    fn partial_headers_wait_for_more() {
        let whole = b"PROXY TCP4 192.30.252.1 10.0.0.1 12345 443\r\n";
        for end in 1..whole.len() {
            let result = parse(&whole[..end], ProxyProtocol::Any).unwrap();
            assert_eq!(result, None, "after {end} bytes");
        }
        let whole = v2_header(1, 0x11, &V4_ADDRESSES);
        for end in 1..whole.len() {
            let result = parse(&whole[..end], ProxyProtocol::Any).unwrap();
            assert_eq!(result, None, "after {end} bytes");
        }
    }

    #[test]
    fn the_wrong_version_or_garbage_is_malformed() {
        let v2 = v2_header(1, 0x11, &V4_ADDRESSES);
        assert!(parse(&v2, ProxyProtocol::V1).is_err());
        let v1 = b"PROXY TCP4 192.30.252.1 10.0.0.1 12345 443\r\n";
        assert!(parse(v1, ProxyProtocol::V2).is_err());
        for garbage in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"PROXY TCP4 300.1.1.1 10.0.0.1 1 2\r\n",
            b"PROXY TCP9 1.1.1.1 10.0.0.1 1 2\r\n",
            b"PROXY TCP4 nonsense here\r\n",
        ] {
            assert!(parse(garbage, ProxyProtocol::Any).is_err(), "{garbage:?}");
        }
        let endless = [b'A'; V1_MAX_BYTES];
        let mut line = V1_PREFIX.to_vec();
        line.extend_from_slice(&endless);
        assert!(parse(&line, ProxyProtocol::V1).is_err());
    }
}
