//! An IP address as text without a heap allocation: the forwarded-for
//! chain, the audit log and the recent-decisions ring write the client
//! address on every request. Below both `proxy` and `audit`, so that the
//! audit layer (and `metrics` through it) needs nothing from the proxy.

use std::net::IpAddr;

/// An IP address as text, on the stack: `X-Forwarded-For` and the audit
/// log write the client address on every request, and `Display` for
/// `Ipv4Addr` goes through the formatting machinery and a heap `String`.
#[derive(Clone, Copy)]
pub(crate) struct IpText {
    buf: [u8; 45], // the longest IPv6 text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
    len: u8,
}

impl IpText {
    /// Formats `ip` exactly as its `Display` impl does.
    pub(crate) fn new(ip: IpAddr) -> Self {
        let mut text = Self {
            buf: [0; 45],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(_) => {
                use std::io::Write as _;
                let mut rest = &mut text.buf[..];
                let _ = write!(rest, "{ip}"); // always fits in 45 bytes
                let left = rest.len();
                text.len = u8::try_from(45 - left).unwrap_or(0);
            }
        }
        text
    }

    fn push(&mut self, b: u8) {
        self.buf[usize::from(self.len)] = b;
        self.len += 1;
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, dots, colons and hex letters were written.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_is_display() {
        let mut ips: Vec<IpAddr> = [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "127.0.0.1",
            "::",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.128",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1:2:3:4",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ips.push(IpAddr::from(x.to_be_bytes()));
        }
        for ip in ips {
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }
}
