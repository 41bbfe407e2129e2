//! The rule that a signed message splits into its values one way only.
//!
//! A template concatenates values (`{id}`, `{timestamp}`, `{body}`) and
//! literals. When a value may contain the separator that follows it, bytes
//! can move between it and its neighbour without changing the message: for
//! `{id}.{body}`, the id `evt_1` with the body `{"a":1.5}` and the id
//! `evt_1.{"a":1` with the body `5}` sign the same bytes, so a delivered
//! event would be forwarded again under a new id. A signed id is therefore
//! refused when it contains the separator byte on its body side; parsed
//! left to right up to the body (right to left after it), every value then
//! ends at a single place.
//!
//! Timestamps need no such check: they are parsed strictly (digits only, or
//! RFC 3339, which no valid value is a proper prefix of), so a shifted split
//! yields a timestamp that does not parse. Bodies are never restricted.
//! Adjacent values with no separator at all are refused in configuration;
//! presets whose provider signs them that way say so in the catalog.
//!
//! Owns the computation of the forbidden bytes and the check. Does not own
//! templates themselves (`common.rs`) nor which header carries what.

use http::HeaderName;

use super::common::{Part, TimestampFormat};
use super::Rejection;

/// The bytes a value of `part` must not contain for `template` to split one
/// way only. `timestamp` is the format of the template's `{timestamp}`.
///
/// On the body's left, a value must not contain the first byte of the
/// literal after it; on its right, the last byte of the literal before it.
/// An id directly followed by an RFC 3339 timestamp (Twitch) must not
/// contain `:`: every RFC 3339 time has one, so the id cannot swallow the
/// timestamp, and no valid timestamp starts inside another.
pub(crate) fn forbidden_bytes(
    template: &[Part],
    part: &Part,
    timestamp: Option<TimestampFormat>,
) -> Vec<u8> {
    let body = template
        .iter()
        .position(|p| matches!(p, Part::Body | Part::Form));
    let mut out = Vec::new();
    for (i, _) in template.iter().enumerate().filter(|(_, p)| *p == part) {
        // `<=` would do as well (a surviving mutant, equivalent): `part`
        // is never the body, whose bytes are never restricted, so `i != b`.
        let left_of_body = body.is_none_or(|b| i < b);
        let neighbour = if left_of_body {
            template.get(i + 1)
        } else {
            i.checked_sub(1).and_then(|j| template.get(j))
        };
        let byte = match neighbour {
            Some(Part::Literal(s)) if left_of_body => s.bytes().next(),
            Some(Part::Literal(s)) => s.bytes().next_back(),
            Some(Part::Timestamp)
                if left_of_body && timestamp == Some(TimestampFormat::Rfc3339) =>
            {
                Some(b':')
            }
            _ => None,
        };
        if let Some(b) = byte.filter(|b| !out.contains(b)) {
            out.push(b);
        }
    }
    out
}

/// Refuses a signed value read from header `name` that contains one of
/// `forbidden` (see [`forbidden_bytes`]); the value itself is not repeated.
pub(crate) fn check(name: &HeaderName, value: &[u8], forbidden: &[u8]) -> Result<(), Rejection> {
    match forbidden.iter().find(|b| value.contains(b)) {
        None => Ok(()),
        Some(&b) => Err(Rejection::InvalidSignature {
            detail: format!(
                "header {name:?} contains {:?}, which separates it from the next value in the \
                 signed message: the message would split more than one way (bytes moved between \
                 the values keep the signature valid), so it is refused",
                char::from(b)
            ),
        }),
    }
}

/// The first two values that follow each other with no literal between
/// them, if any (configuration refuses such templates), but for
/// `allowed` pairs. The secret is fixed, not read from the request, so no
/// byte can move across it: it separates like a literal.
pub(crate) fn adjacent_values(
    template: &[Part],
    allowed: impl Fn(&Part, &Part) -> bool,
) -> Option<(&Part, &Part)> {
    let fixed = |p: &Part| matches!(p, Part::Literal(_) | Part::Secret);
    template
        .windows(2)
        .map(|w| (&w[0], &w[1]))
        .find(|(a, b)| !fixed(a) && !fixed(b) && !allowed(a, b))
}

/// Whether the template puts `{timestamp}` right after `{body}` (Cloudinary):
/// safe only for a timestamp of digits without a leading zero, since any
/// shifted split then changes its value tenfold, far outside any window.
pub(crate) fn timestamp_abuts_body(template: &[Part]) -> bool {
    template
        .windows(2)
        .any(|w| w[0] == Part::Body && w[1] == Part::Timestamp)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn lit(s: &'static str) -> Part {
        Part::Literal(Cow::Borrowed(s))
    }

    #[test]
    fn the_separator_on_the_body_side_is_forbidden() {
        use Part::{Body, Id, Timestamp};
        let cases: &[(&[Part], &[u8])] = &[
            (&[Id, lit("."), Body], b"."),
            // Left of the body the literal's first byte counts, not its last.
            (&[Id, lit(".|"), Body], b"."),
            (&[Id, lit("::"), Timestamp, lit("|"), Body], b":"),
            (&[Body, lit("-|"), Id], b"|"),
            (&[Id, lit("."), Body, lit(","), Id], b".,"),
            (&[Id, lit("."), Timestamp, lit("."), Body], b"."),
            (&[Body, lit("."), Timestamp], b""),
            (&[lit("v1:"), Id, Body], b""),
        ];
        for (template, want) in cases {
            assert_eq!(
                forbidden_bytes(template, &Id, Some(TimestampFormat::UnixSeconds)),
                *want,
                "{template:?}"
            );
        }
        // Twitch: the id is followed by an RFC 3339 timestamp.
        let twitch = [Id, Timestamp, Body];
        assert_eq!(
            forbidden_bytes(&twitch, &Id, Some(TimestampFormat::Rfc3339)),
            b":"
        );
        assert_eq!(
            forbidden_bytes(&twitch, &Id, Some(TimestampFormat::UnixSeconds)),
            b""
        );
    }

    #[test]
    fn check_names_the_byte_not_the_value() {
        let name = HeaderName::from_static("x-id");
        assert_eq!(check(&name, b"evt_1", b"."), Ok(()));
        assert_eq!(check(&name, b"anything", b""), Ok(()));
        let err = format!("{:?}", check(&name, b"evt_1.{\"a\":1", b"."));
        assert!(err.contains("InvalidSignature"), "{err}");
        assert!(err.contains(r#"contains '.'"#), "{err}");
        assert!(!err.contains("evt_1"), "{err}");
    }

    #[test]
    fn adjacent_values_are_found() {
        use Part::{Body, Id, Secret, Timestamp};
        let none = |_: &Part, _: &Part| false;
        assert_eq!(adjacent_values(&[Id, Body], none), Some((&Id, &Body)));
        assert_eq!(
            adjacent_values(&[Id, lit("."), Timestamp, Body], none),
            Some((&Timestamp, &Body))
        );
        assert_eq!(adjacent_values(&[Id, lit("."), Body], none), None);
        assert_eq!(adjacent_values(&[Body], none), None);
        // The secret is fixed: it separates like a literal.
        assert_eq!(adjacent_values(&[Secret, Body], none), None);
        assert_eq!(adjacent_values(&[Body, Secret, Id], none), None);
        // A pair the caller allows is passed over, the next one found.
        let body_ts = |a: &Part, b: &Part| (a, b) == (&Body, &Timestamp);
        let cloudinary = [Body, Timestamp, Secret];
        assert_eq!(adjacent_values(&cloudinary, body_ts), None);
        assert_eq!(
            adjacent_values(&cloudinary, none),
            Some((&Body, &Timestamp))
        );
        assert_eq!(
            adjacent_values(&[Body, Timestamp, Id], body_ts),
            Some((&Timestamp, &Id))
        );
        assert!(timestamp_abuts_body(&cloudinary));
        assert!(!timestamp_abuts_body(&[Timestamp, Body]));
        // Both in that order and next to each other, not either one alone.
        assert!(!timestamp_abuts_body(&[Body, lit("."), Timestamp]));
        assert!(!timestamp_abuts_body(&[Id, Timestamp, Body]));
    }

    /// The rule as each preset that signs an id applies it: a genuine request
    /// passes, the same signed bytes split at another place do not.
    mod presets {
        use base64::Engine as _;
        use ring::hmac;

        use super::super::super::testutil::{headers, kind, run, secrets, verifier};
        use super::super::super::{build, ProviderParams};
        use crate::secret::Secret;

        fn sign(alg: hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> hmac::Tag {
            let mut ctx = hmac::Context::with_key(&hmac::Key::new(alg, key));
            parts.iter().for_each(|p| ctx.update(p));
            ctx.sign()
        }

        // Twitch signs `{id}{timestamp}{body}` with no separator; the ids in
        // its docs ("Handling webhook events") are UUIDs, like this one. A
        // body holding a recent RFC 3339 time lets the id swallow the real
        // timestamp and part of the body: refused, as that id holds a `:`.
        #[test]
        fn twitch_ids_cannot_swallow_the_timestamp() {
            let v = verifier("twitch", &secrets(&["twitch_secret_1234"]));
            let id = "e76c6bd4-55c9-4987-8304-da1588d8988b";
            let ts = "2019-11-16T10:11:12.634234626Z";
            let body = r#"{"event":{"followed_at":"2019-11-16T10:11:13Z"}}"#;
            let tag = sign(
                hmac::HMAC_SHA256,
                b"twitch_secret_1234",
                &[id.as_bytes(), ts.as_bytes(), body.as_bytes()],
            );
            let sig = format!("sha256={}", hex::encode(tag.as_ref()));
            let request = |id: &str, ts: &str| {
                headers(&[
                    ("twitch-eventsub-message-signature", sig.as_bytes()),
                    ("twitch-eventsub-message-id", id.as_bytes()),
                    ("twitch-eventsub-message-timestamp", ts.as_bytes()),
                ])
            };
            let now = 1_573_899_100;
            assert_eq!(kind(&run(&v, &request(id, ts), body.as_bytes(), now)), "ok");
            let swallowed = format!(r#"{id}{ts}{{"event":{{"followed_at":""#);
            let h = request(&swallowed, "2019-11-16T10:11:13Z");
            let r = run(&v, &h, br#""}}"#, now);
            assert!(format!("{r:?}").contains("contains ':'"), "{r:?}");
        }

        // Standard Webhooks' spec: ids must not include `.`.
        #[test]
        fn standard_webhooks_ids_cannot_hold_a_dot() {
            let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
            let key = base64::engine::general_purpose::STANDARD
                .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap();
            let v = verifier("standard-webhooks", &secrets(&[secret]));
            let ts = "1614265330";
            let message = |id: &str, body: &str| {
                let tag = sign(
                    hmac::HMAC_SHA256,
                    &key,
                    &[id.as_bytes(), b".", ts.as_bytes(), b".", body.as_bytes()],
                );
                let sig = format!(
                    "v1,{}",
                    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
                );
                headers(&[
                    ("webhook-id", id.as_bytes()),
                    ("webhook-timestamp", ts.as_bytes()),
                    ("webhook-signature", sig.as_bytes()),
                ])
            };
            let now = 1_614_265_330;
            let body = r#"{"t":"1.1614265330.2"}"#;
            assert_eq!(
                kind(&run(&v, &message("msg_1", body), body.as_bytes(), now)),
                "ok"
            );
            // The same bytes with the id `msg_1.1614265330.{"t":"1`.
            let mut shifted = message("msg_1", body);
            shifted.insert(
                "webhook-id",
                http::HeaderValue::from_static(r#"msg_1.1614265330.{"t":"1"#),
            );
            let r = run(&v, &shifted, br#"2"}"#, now);
            assert!(format!("{r:?}").contains("contains '.'"), "{r:?}");

            // v1a (Ed25519) signs the same message: the id is refused before
            // any key is tried.
            let pk = secrets(&["whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="]);
            let v1a = build(
                "standard-webhooks-ed25519",
                ProviderParams {
                    secrets: &[],
                    public_keys: &pk,
                    tolerance: None,
                    hmac: None,
                    verify_token: None::<&Secret>,
                    token_header: None,
                    fetch: None,
                    token_query: None,
                },
            )
            .unwrap();
            let h = headers(&[
                ("webhook-id", b"msg.1"),
                ("webhook-timestamp", ts.as_bytes()),
                ("webhook-signature", b"v1a,AAAA"),
            ]);
            let r = run(&v1a, &h, b"{}", now);
            assert_eq!(kind(&r), "invalid");
            assert!(format!("{r:?}").contains("contains '.'"), "{r:?}");
        }
    }
}
