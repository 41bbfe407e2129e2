//! Family: a shared token sent verbatim in a header (GitLab's
//! `X-Gitlab-Token`; later Okta-style static header secrets).
//!
//! Owns the constant-time token comparison — each configured token is
//! blinded once at build (HMAC under a random per-verifier key) and the
//! received value is checked with `ring::hmac::verify` — and the choice of
//! de-duplication key: the provider's (unsigned) delivery id header where it
//! sends one, else none. Does not own anything about the body: a token scheme
//! signs nothing, which is why its dedup key is weaker (see docs/security.md).

use std::time::Duration;

use http::{HeaderMap, HeaderName};
use ring::hmac;

use super::common::{header_bytes, header_name};
use super::keys::{is_active, Blind};
use super::{
    BuildError, Dedup, Inbound, ProviderInfo, ProviderParams, Rejection, SignRequest, Verified,
    Verifier,
};
use crate::body::Payload;

/// Longest delivery id used as a dedup key; longer values are ignored.
const MAX_DELIVERY_ID: usize = 256;

/// One token provider, as catalog data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenSpec {
    /// Header that carries the token.
    pub(crate) header: &'static str,
    /// Header with the provider's delivery id (unsigned), if it sends one.
    pub(crate) delivery_id_header: Option<&'static str>,
}

impl TokenSpec {
    /// The row of `hookguard providers` for this shape.
    pub(crate) fn info(&self, name: &'static str) -> ProviderInfo {
        let mut headers = format!("{}: <token>", self.header);
        if let Some(d) = self.delivery_id_header {
            headers.push_str(&format!(", {d}: <delivery id, unsigned>"));
        }
        ProviderInfo {
            name,
            algorithm: "shared token",
            headers,
            signed: "nothing (the token is compared in constant time)".into(),
            tolerance: super::common::tolerance_text(None),
            ..ProviderInfo::default()
        }
    }
}

/// The headers a token sender would send (`hookguard sign`): the token
/// itself, and the delivery id when one is given.
pub(crate) fn sign(
    spec: &TokenSpec,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let token = std::str::from_utf8(secret).map_err(|_| BuildError {
        field: "secret".into(),
        message: "a token must be UTF-8 text".into(),
    })?;
    let mut out = vec![(spec.header.to_owned(), token.to_owned())];
    if let (Some(h), Some(id)) = (spec.delivery_id_header, req.id) {
        out.push((h.to_owned(), id.to_owned()));
    }
    Ok(out)
}

// === impl TokenVerifier ===

/// A built token verifier: tokens only as blinded tags.
pub(crate) struct TokenVerifier {
    provider: &'static str,
    header: HeaderName,
    delivery: Option<HeaderName>,
    blind: Blind,
    /// Blinded token and expiry per configured secret, in order.
    tokens: Vec<(hmac::Tag, Option<i64>)>,
}

impl TokenVerifier {
    /// Builds from a catalog entry.
    pub(crate) fn build(
        provider: &'static str,
        spec: &TokenSpec,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        if params.secrets.is_empty() {
            return Err(BuildError {
                field: "secrets".into(),
                message: "no secret configured: the route would verify nothing".into(),
            });
        }
        let blind = Blind::new()?;
        let tokens = params
            .secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.value.is_empty() {
                    return Err(BuildError {
                        field: format!("secrets[{i}]"),
                        message: "secret is empty".into(),
                    });
                }
                Ok((blind.seal(s.value.expose()), s.expires))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            provider,
            header: header_name("provider", spec.header)?,
            delivery: spec
                .delivery_id_header
                .map(|h| header_name("provider", h))
                .transpose()?,
            blind,
            tokens,
        })
    }

    /// The delivery id, if present, single, printable and short; anything
    /// else means no de-duplication rather than a rejection (it is unsigned).
    fn delivery_id(&self, headers: &HeaderMap) -> Dedup {
        let Some(name) = &self.delivery else {
            return Dedup::None;
        };
        match header_bytes(headers, name) {
            Ok(raw) if raw.len() <= MAX_DELIVERY_ID && raw.iter().all(u8::is_ascii_graphic) => {
                Dedup::DeliveryId(String::from_utf8_lossy(raw).into_owned())
            }
            _ => Dedup::None,
        }
    }
}

impl Verifier for TokenVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        None
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        header_bytes(req.headers, &self.header).map(|_| ())
    }

    fn verify(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Verified, Rejection> {
        let received = header_bytes(req.headers, &self.header)?;
        let mut tried = 0usize;
        for (i, (sealed, expires)) in self.tokens.iter().enumerate() {
            if !is_active(*expires, req.now_ms) {
                continue;
            }
            tried += 1;
            if self.blind.matches(received, sealed) {
                return Ok(Verified {
                    secret_index: i,
                    event_id: None,
                    dedup: self.delivery_id(req.headers),
                });
            }
        }
        let total = self.tokens.len();
        let detail = if tried == 0 {
            format!("no active secret: all {total} have expired")
        } else {
            format!(
                "header {:?}: token does not match (tried {tried} active secrets, {} expired)",
                self.header,
                total - tried
            )
        };
        Err(Rejection::InvalidSignature { detail })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{headers, kind, run, secrets, verifier, Garbage};
    use super::*;

    // ngrok-docs `traffic-policy/actions/verify-webhook.mdx` example:
    // provider gitlab, secret `secret!`, header `X-Gitlab-Token: secret!`
    // → verified.
    #[test]
    fn ngrok_docs_example() {
        let v = verifier("gitlab", &secrets(&["secret!"]));
        assert_eq!(v.provider(), "gitlab");
        let ok = run(&v, &headers(&[("X-Gitlab-Token", b"secret!")]), b"{}", 0).unwrap();
        assert_eq!(ok.secret_index, 0);
        assert_eq!(ok.event_id, None);
        assert_eq!(ok.dedup, Dedup::None);
        let r = run(&v, &headers(&[("X-Gitlab-Token", b"secret?")]), b"{}", 0);
        assert_eq!(
            r,
            Err(Rejection::InvalidSignature {
                detail: "header \"x-gitlab-token\": token does not match (tried 1 active secrets, 0 expired)".into()
            })
        );
        assert_eq!(
            kind(&run(
                &v,
                &headers(&[("X-Gitlab-Token", b"secret")]),
                b"{}",
                0
            )),
            "invalid"
        );
        assert_eq!(
            kind(&run(
                &v,
                &headers(&[("X-Gitlab-Token", b"secret!!")]),
                b"{}",
                0
            )),
            "invalid"
        );
        assert_eq!(kind(&run(&v, &headers(&[]), b"{}", 0)), "missing");
        assert_eq!(
            kind(&run(&v, &headers(&[("X-Gitlab-Token", b"")]), b"{}", 0)),
            "missing"
        );
    }

    #[test]
    fn delivery_id_is_the_dedup_key() {
        let v = verifier("gitlab", &secrets(&["secret!"]));
        let uuid = b"0b4ad9a1-0c4d-4e9c-8b7a-3f2f7c0e9d11";
        let h = headers(&[
            ("X-Gitlab-Token", b"secret!"),
            ("X-Gitlab-Event-UUID", uuid),
        ]);
        let ok = run(&v, &h, b"{}", 0).unwrap();
        assert_eq!(
            ok.dedup,
            Dedup::DeliveryId(String::from_utf8(uuid.to_vec()).unwrap())
        );
        assert_eq!(
            ok.event_id, None,
            "an unsigned id is never forwarded as the event id"
        );
        let long = vec![b'a'; 300];
        let h = headers(&[
            ("X-Gitlab-Token", b"secret!"),
            ("X-Gitlab-Event-UUID", &long),
        ]);
        assert_eq!(run(&v, &h, b"{}", 0).unwrap().dedup, Dedup::None);
    }

    // Telegram Bot API docs "setWebhook": secret_token comes back in
    // X-Telegram-Bot-Api-Secret-Token. Telegram sends no delivery id header,
    // so nothing is de-duplicated, whatever else the request carries.
    #[test]
    fn telegram_secret_token_without_delivery_id() {
        let v = verifier("telegram", &secrets(&["tg_Secret-Token_1"]));
        let h = headers(&[
            ("X-Telegram-Bot-Api-Secret-Token", b"tg_Secret-Token_1"),
            ("X-Gitlab-Event-UUID", b"not-telegram's"),
        ]);
        let ok = run(&v, &h, br#"{"update_id":1}"#, 0).unwrap();
        assert_eq!((ok.secret_index, ok.dedup), (0, Dedup::None));
        let wrong = headers(&[("X-Telegram-Bot-Api-Secret-Token", b"tg_Secret-Token_2")]);
        assert_eq!(kind(&run(&v, &wrong, b"{}", 0)), "invalid");
        let elsewhere = headers(&[("X-Gitlab-Token", b"tg_Secret-Token_1")]);
        assert_eq!(kind(&run(&v, &elsewhere, b"{}", 0)), "missing");
    }

    #[test]
    fn rotation_and_expiry() {
        let mut s = secrets(&["old-token", "new-token"]);
        s[0].expires = Some(100);
        let v = verifier("gitlab", &s);
        let old = headers(&[("X-Gitlab-Token", b"old-token")]);
        assert_eq!(run(&v, &old, b"", 99).unwrap().secret_index, 0);
        assert_eq!(kind(&run(&v, &old, b"", 100)), "invalid");
        let new = headers(&[("X-Gitlab-Token", b"new-token")]);
        assert_eq!(run(&v, &new, b"", 100).unwrap().secret_index, 1);
    }

    #[test]
    fn garbage_never_panics() {
        let v = verifier("gitlab", &secrets(&["secret!"]));
        let mut g = Garbage::new(3);
        for _ in 0..2000 {
            if let Ok(hv) = http::HeaderValue::from_bytes(&g.value(b"secret!")) {
                let mut h = HeaderMap::new();
                h.insert("x-gitlab-token", hv);
                let _ = run(&v, &h, b"", 0);
            }
        }
    }
}
