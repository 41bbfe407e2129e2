//! Family: a shared credential sent with every delivery, signing nothing —
//! a token verbatim in a named header (GitLab's `X-Gitlab-Token`, Okta's and
//! Auth0's configured `Authorization` value), `Authorization: Bearer
//! <token>` (RFC 6750), or `Authorization: Basic` with a user and password
//! (RFC 7617; Postmark, Chargebee, Pipedrive).
//!
//! Owns reading the credential out of its header, its constant-time
//! comparison — each configured value is blinded once at build (HMAC under a
//! random per-verifier key) and the received one is checked with
//! `ring::hmac::verify` — naming the header that carries it (the proxy drops
//! it before forwarding unless the route sets `forward_token`), and the
//! choice of de-duplication key: the provider's (unsigned) delivery id
//! header where it sends one, else none. Does not own anything about the
//! body: a credential signs nothing, which is why it proves less than a
//! signature (see docs/security.md).

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, HeaderName};
use ring::hmac;

use super::common::{header_bytes, header_name, strip_prefix_ci};
use super::handshake::{ChallengeKeys, Handshake};
use super::keys::{is_active, no_match_detail, Blind, SECRET};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, Verified, Verifier,
};
use crate::body::Payload;

/// Longest delivery id used as a dedup key; longer values are ignored.
const MAX_DELIVERY_ID: usize = 256;

/// How a provider presents its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    /// The token verbatim in this header.
    Header(&'static str),
    /// The token verbatim in the header the route names (`token_header`):
    /// the generic `token` provider, for senders whose header is configurable.
    RouteHeader,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic base64(user:password)`; each secret is a
    /// `user:password` pair.
    Basic,
}

/// One token provider, as catalog data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenSpec {
    /// Where the credential is and how it is written.
    pub(crate) credential: Credential,
    /// Header with the provider's delivery id (unsigned), if it sends one.
    pub(crate) delivery_id_header: Option<&'static str>,
}

impl TokenSpec {
    /// A token verbatim in `header`, with no delivery id.
    pub(crate) const fn header(header: &'static str) -> Self {
        Self {
            credential: Credential::Header(header),
            delivery_id_header: None,
        }
    }

    /// A credential in `Authorization` (`Bearer` or `Basic`), no delivery id.
    pub(crate) const fn authorization(credential: Credential) -> Self {
        Self {
            credential,
            delivery_id_header: None,
        }
    }

    /// The row of `hookguard providers` for this shape.
    pub(crate) fn info(&self, name: &'static str) -> ProviderInfo {
        let (algorithm, mut headers) = match self.credential {
            Credential::Header(h) => ("shared token", format!("{h}: <token>")),
            Credential::RouteHeader => ("shared token", "<token_header>: <token>".to_owned()),
            Credential::Bearer => ("bearer token", "authorization: Bearer <token>".to_owned()),
            Credential::Basic => (
                "HTTP Basic",
                "authorization: Basic <base64 user:password>".to_owned(),
            ),
        };
        if let Some(d) = self.delivery_id_header {
            headers.push_str(&format!(", {d}: <delivery id, unsigned>"));
        }
        ProviderInfo {
            name,
            algorithm,
            headers,
            signed: "nothing (the credential is compared in constant time)".into(),
            tolerance: super::common::tolerance_text(None),
            ..ProviderInfo::default()
        }
    }

    /// Whether each secret of this scheme is a `user:password` pair.
    pub(crate) fn is_basic(&self) -> bool {
        self.credential == Credential::Basic
    }
}

/// The headers a sender would send (`hookguard sign`): the credential, and
/// the delivery id when one is given. `token_header` is the route's, for
/// the generic `token` provider.
pub(crate) fn sign(
    spec: &TokenSpec,
    token_header: Option<&str>,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let token = std::str::from_utf8(secret).map_err(|_| BuildError {
        field: "secret".into(),
        message: "a token must be UTF-8 text".into(),
    })?;
    let (name, value) = match spec.credential {
        Credential::Header(h) => (h.to_owned(), token.to_owned()),
        Credential::RouteHeader => (route_header(token_header)?.to_owned(), token.to_owned()),
        Credential::Bearer => ("authorization".to_owned(), format!("Bearer {token}")),
        Credential::Basic => {
            user_password(secret).map_err(|message| BuildError {
                field: "secret".into(),
                message,
            })?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            ("authorization".to_owned(), format!("Basic {encoded}"))
        }
    };
    let mut out = vec![(name, value)];
    if let (Some(h), Some(id)) = (spec.delivery_id_header, req.id) {
        out.push((h.to_owned(), id.to_owned()));
    }
    Ok(out)
}

/// The route's `token_header`, which the generic `token` provider needs.
fn route_header(token_header: Option<&str>) -> Result<&str, BuildError> {
    token_header.ok_or_else(|| BuildError {
        field: "token_header".into(),
        message: "provider \"token\" needs token_header: the header that carries the token".into(),
    })
}

/// Checks that a Basic secret is `user:password` with a non-empty password
/// (RFC 7617: the user part cannot hold a colon, so the first one splits).
fn user_password(secret: &[u8]) -> Result<(), String> {
    match secret.iter().position(|b| *b == b':') {
        Some(at) if at + 1 < secret.len() => Ok(()),
        Some(_) => Err("the password after \"user:\" is empty".into()),
        None => Err(
            "a user and a password are needed: write { user = \"env:...\", \
                     password = \"env:...\" }, or one reference whose value is user:password"
                .into(),
        ),
    }
}

// === impl TokenVerifier ===

/// How the received header value becomes the compared credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Verbatim,
    Bearer,
    Basic,
}

/// A built token verifier: credentials only as blinded tags.
pub(crate) struct TokenVerifier {
    provider: &'static str,
    header: HeaderName,
    form: Form,
    delivery: Option<HeaderName>,
    blind: Blind,
    /// Blinded credential and expiry per configured secret, in order.
    tokens: Vec<(hmac::Tag, Option<i64>)>,
    /// Okta's verification GET, answered once the credential matched.
    handshake: Handshake,
}

impl TokenVerifier {
    /// Builds from a catalog entry (and the route's `token_header` for the
    /// generic `token` provider).
    pub(crate) fn build(
        provider: &'static str,
        spec: &TokenSpec,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let (header, form) = match spec.credential {
            Credential::Header(h) => (header_name("provider", h)?, Form::Verbatim),
            Credential::RouteHeader => (
                header_name("token_header", route_header(params.token_header)?)?,
                Form::Verbatim,
            ),
            Credential::Bearer => (http::header::AUTHORIZATION, Form::Bearer),
            Credential::Basic => (http::header::AUTHORIZATION, Form::Basic),
        };
        if params.token_header.is_some() && spec.credential != Credential::RouteHeader {
            return Err(BuildError {
                field: "token_header".into(),
                message: format!(
                    "provider {provider:?} reads its credential from {:?}; token_header applies \
                     only to provider \"token\"",
                    header.as_str()
                ),
            });
        }
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
                let field = || format!("secrets[{i}]");
                let value = s.value.expose();
                if value.is_empty() {
                    return Err(BuildError {
                        field: field(),
                        message: "secret is empty".into(),
                    });
                }
                if form == Form::Basic {
                    user_password(value).map_err(|message| BuildError {
                        field: field(),
                        message: format!("provider {provider:?} checks HTTP Basic: {message}"),
                    })?;
                }
                Ok((blind.seal(value), s.expires))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            provider,
            header,
            form,
            delivery: spec
                .delivery_id_header
                .map(|h| header_name("provider", h))
                .transpose()?,
            blind,
            tokens,
            handshake: Handshake::None,
        })
    }

    /// Adds the provider's handshake (Okta's verification GET).
    pub(crate) fn with_handshake(mut self, handshake: Handshake) -> Self {
        self.handshake = handshake;
        self
    }

    /// The credential inside the header's value: the value itself, the
    /// token after `Bearer`, or the decoded `user:password` after `Basic`
    /// (auth schemes are case-insensitive, RFC 9110 §11.1).
    fn credential<'v>(&self, value: &'v [u8]) -> Result<Cow<'v, [u8]>, Rejection> {
        let invalid = |why: &str| Rejection::InvalidSignature {
            detail: format!("header {:?}: {why}", self.header),
        };
        let after_scheme = |scheme: &str| {
            let rest = strip_prefix_ci(value, scheme)
                .filter(|rest| rest.first() == Some(&b' '))
                .ok_or_else(|| invalid(&format!("expected the {scheme} scheme")))?;
            Ok::<_, Rejection>(rest.trim_ascii_start())
        };
        match self.form {
            Form::Verbatim => Ok(Cow::Borrowed(value)),
            Form::Bearer => after_scheme("Bearer").map(Cow::Borrowed),
            Form::Basic => base64::engine::general_purpose::STANDARD
                .decode(after_scheme("Basic")?)
                .map(Cow::Owned)
                .map_err(|_| invalid("Basic credentials are not base64")),
        }
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

    fn credential_header(&self) -> Option<&HeaderName> {
        Some(&self.header)
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        self.credential(header_bytes(req.headers, &self.header)?)
            .map(|_| ())
    }

    fn extra_methods(&self) -> &'static [http::Method] {
        self.handshake.extra_methods()
    }

    /// Okta's verification GET carries the same credential as its events:
    /// it is answered only when that matches.
    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        if self.handshake == Handshake::None || req.method != http::Method::GET {
            return None;
        }
        if let Err(refused) = self.verify(req, &Payload::default()) {
            return Some(Err(refused));
        }
        self.handshake
            .challenge(req, ChallengeKeys::default(), false)
    }

    fn verify(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Verified, Rejection> {
        let received = self.credential(header_bytes(req.headers, &self.header)?)?;
        for (i, (sealed, expires)) in self.tokens.iter().enumerate() {
            if is_active(*expires, req.now_ms) && self.blind.matches(&received, sealed) {
                return Ok(Verified {
                    secret_index: i,
                    event_id: None,
                    dedup: self.delivery_id(req.headers),
                });
            }
        }
        let what = if self.form == Form::Basic {
            "user:password"
        } else {
            "token"
        };
        let detail = no_match_detail(
            &format!("header {:?}: {what} does not match", self.header),
            SECRET,
            self.tokens.iter().map(|(_, expires)| *expires),
            req.now_ms,
            None,
        );
        Err(Rejection::InvalidSignature { detail })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{headers, kind, precheck_at, run, secrets, verifier, Garbage};
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
                detail: "header \"x-gitlab-token\": token does not match: tried against 1 unexpired secret (#0)".into()
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

    // RFC 7617 §2: user "Aladdin", password "open sesame" →
    // `Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`.
    const RFC7617: &[u8] = b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";

    #[test]
    fn basic_rfc7617_example_for_every_basic_preset() {
        for name in ["basic-auth", "postmark", "chargebee", "pipedrive"] {
            let v = verifier(name, &secrets(&["Aladdin:open sesame"]));
            let ok = run(&v, &headers(&[("Authorization", RFC7617)]), b"{}", 0).unwrap();
            assert_eq!((ok.secret_index, ok.dedup), (0, Dedup::None), "{name}");
            assert_eq!(v.credential_header(), Some(&http::header::AUTHORIZATION));
            // The scheme is case-insensitive; spaces after it are allowed.
            let lower = headers(&[("authorization", b"basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ==")]);
            assert!(run(&v, &lower, b"", 0).is_ok(), "{name}");
        }
        let v = verifier("postmark", &secrets(&["Aladdin:open sesame"]));
        let cases: &[(&[u8], &str, &str)] = &[
            // user:password of "Aladdin:open sesamE"
            (
                b"Basic QWxhZGRpbjpvcGVuIHNlc2FtRQ==",
                "invalid",
                "user:password does not match",
            ),
            (
                b"Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                "invalid",
                "expected the Basic scheme",
            ),
            (
                b"BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                "invalid",
                "expected the Basic scheme",
            ),
            (b"Basic not*base64", "invalid", "not base64"),
            (
                b"Aladdin:open sesame",
                "invalid",
                "expected the Basic scheme",
            ),
            (b"", "missing", "is empty"),
        ];
        for (value, want, needle) in cases {
            let r = run(&v, &headers(&[("authorization", value)]), b"", 0);
            assert_eq!(kind(&r), *want, "{value:?}");
            let detail = format!("{r:?}");
            assert!(detail.contains(needle), "{detail}");
            assert!(
                !detail.contains("sesame") && !detail.contains("QWxh"),
                "{detail}"
            );
        }
        assert_eq!(kind(&run(&v, &headers(&[]), b"", 0)), "missing");
    }

    // Okta docs "Hooks best practices": the Authentication secret, scheme
    // included, arrives verbatim: `Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ=`
    // (admin:supersecret). Okta compares nothing itself, so neither do we
    // decode it: the configured text is the token.
    #[test]
    fn okta_docs_example_is_a_verbatim_token() {
        let okta = b"Basic YWRtaW46c3VwZXJzZWNyZXQ=";
        let v = verifier("okta", &secrets(&["Basic YWRtaW46c3VwZXJzZWNyZXQ="]));
        assert!(run(&v, &headers(&[("Authorization", okta)]), b"", 0).is_ok());
        let other = headers(&[("Authorization", b"basic YWRtaW46c3VwZXJzZWNyZXQ=")]);
        assert_eq!(kind(&run(&v, &other, b"", 0)), "invalid");
        let basic = verifier("basic-auth", &secrets(&["admin:supersecret"]));
        assert!(run(&basic, &headers(&[("Authorization", okta)]), b"", 0).is_ok());
    }

    // RFC 6750 §2.1 example: `Authorization: Bearer mF_9.B5f-4.1JqM`.
    #[test]
    fn bearer_rfc6750_example() {
        for name in ["bearer", "brevo"] {
            let v = verifier(name, &secrets(&["mF_9.B5f-4.1JqM"]));
            let h = headers(&[("Authorization", b"Bearer mF_9.B5f-4.1JqM")]);
            assert!(run(&v, &h, b"", 0).is_ok(), "{name}");
            for (value, want) in [
                (&b"Bearer mF_9.B5f-4.1JqN"[..], "invalid"),
                (b"mF_9.B5f-4.1JqM", "invalid"),
                (b"Basic mF_9.B5f-4.1JqM", "invalid"),
                (b"Bearer ", "invalid"),
                (b"Bearer", "invalid"),
            ] {
                let r = run(&v, &headers(&[("Authorization", value)]), b"", 0);
                assert_eq!(kind(&r), want, "{name} {value:?}");
            }
        }
    }

    #[test]
    fn generic_token_reads_the_route_header() {
        let s = secrets(&["tok-1"]);
        let build = |header: Option<&str>, name: &str| {
            super::super::build(
                name,
                ProviderParams {
                    secrets: &s,
                    public_keys: &[],
                    tolerance: None,
                    hmac: None,
                    verify_token: None,
                    token_header: header,
                    fetch: None,
                    token_query: None,
                },
            )
        };
        let v = build(Some("x-okta-secret"), "token")
            .map_err(|e| e.field)
            .unwrap();
        assert_eq!(
            v.credential_header().map(|h| h.as_str()),
            Some("x-okta-secret")
        );
        assert!(run(&v, &headers(&[("X-Okta-Secret", b"tok-1")]), b"", 0).is_ok());
        assert_eq!(
            kind(&run(&v, &headers(&[("Authorization", b"tok-1")]), b"", 0)),
            "missing"
        );
        assert_eq!(build(None, "token").err().unwrap().field, "token_header");
        assert_eq!(
            build(Some("x-t"), "gitlab").err().unwrap().field,
            "token_header"
        );
        assert_eq!(
            build(Some("bad header"), "token").err().unwrap().field,
            "token_header"
        );
    }

    #[test]
    fn basic_secrets_must_be_user_and_password() {
        for (secret, needle) in [
            ("just-a-password", "a user and a password are needed"),
            ("bob:", "password after \"user:\" is empty"),
        ] {
            let e = super::super::testutil::build_with("postmark", &secrets(&[secret]), None, None)
                .err()
                .unwrap();
            assert_eq!(e.field, "secrets[0]");
            assert!(e.message.contains(needle), "{}", e.message);
            assert!(!e.message.contains(secret), "{}", e.message);
        }
        let req = SignRequest {
            body: b"",
            timestamp: 0,
            id: None,
            url: None,
            method: "POST",
        };
        let spec = TokenSpec::authorization(Credential::Basic);
        let out = sign(&spec, None, b"Aladdin:open sesame", &req).unwrap();
        assert_eq!(out[0].1.as_bytes(), RFC7617);
        assert_eq!(
            sign(&spec, None, b"nouser", &req).unwrap_err().field,
            "secret"
        );
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

    // `hookguard providers` and docs/providers.md print this row; a
    // credential has no timestamp, so the window reads "none".
    #[test]
    fn info_row_names_the_credential_and_no_window() {
        let gitlab = TokenSpec {
            credential: Credential::Header("x-gitlab-token"),
            delivery_id_header: Some("x-gitlab-event-uuid"),
        }
        .info("gitlab");
        assert_eq!(gitlab.name, "gitlab");
        assert_eq!(gitlab.algorithm, "shared token");
        assert_eq!(
            gitlab.headers,
            "x-gitlab-token: <token>, x-gitlab-event-uuid: <delivery id, unsigned>"
        );
        assert!(gitlab.signed.starts_with("nothing"), "{}", gitlab.signed);
        assert_eq!(gitlab.tolerance, "none");
        let basic = TokenSpec::authorization(Credential::Basic).info("postmark");
        assert_eq!(basic.tolerance, "none");
    }

    // Only HTTP Basic secrets are `user:password` pairs that configuration
    // may write as `{ user, password }`.
    #[test]
    fn only_basic_takes_a_user_and_password() {
        assert!(TokenSpec::authorization(Credential::Basic).is_basic());
        assert!(!TokenSpec::authorization(Credential::Bearer).is_basic());
        assert!(!TokenSpec::header("x-gitlab-token").is_basic());
        assert!(super::super::takes_user_password("postmark"));
        for name in ["gitlab", "bearer", "token", "okta"] {
            assert!(!super::super::takes_user_password(name), "{name}");
        }
    }

    // A credential signs no timestamp: no window, so a route `tolerance`
    // on a token provider is a configuration error, not ignored.
    #[test]
    fn no_window_so_a_route_tolerance_is_refused() {
        let v = verifier("gitlab", &secrets(&["secret!"]));
        assert_eq!(v.tolerance(), None);
        let window = Some(Duration::from_secs(60));
        let e = super::super::testutil::build_with("gitlab", &secrets(&["secret!"]), window, None)
            .err()
            .unwrap();
        assert_eq!(e.field, "tolerance");
    }

    // The precheck runs on the headers alone, before the body is read: a
    // credential in the wrong form, or none, is refused there already.
    #[test]
    fn precheck_refuses_a_malformed_credential_before_the_body() {
        let v = verifier("bearer", &secrets(&["mF_9.B5f-4.1JqM"]));
        let precheck = |h: &HeaderMap| precheck_at(&v, h, 0);
        let good = headers(&[("Authorization", b"Bearer mF_9.B5f-4.1JqM")]);
        assert_eq!(precheck(&good), Ok(()));
        let basic = headers(&[("Authorization", b"Basic mF_9.B5f-4.1JqM")]);
        assert!(
            matches!(precheck(&basic), Err(Rejection::InvalidSignature { .. })),
            "{:?}",
            precheck(&basic)
        );
        assert!(matches!(
            precheck(&headers(&[])),
            Err(Rejection::MissingSignature { .. })
        ));
    }

    // Okta's verification is a GET: the route must let GET through to the
    // challenge; other token providers take POSTs only.
    #[test]
    fn only_okta_takes_its_verification_get() {
        let okta = verifier("okta", &secrets(&["Basic YWRtaW46c3VwZXJzZWNyZXQ="]));
        assert_eq!(okta.extra_methods(), &[http::Method::GET][..]);
        let gitlab = verifier("gitlab", &secrets(&["secret!"]));
        assert!(gitlab.extra_methods().is_empty());
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
