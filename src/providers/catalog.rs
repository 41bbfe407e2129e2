//! The declaration table: every built-in provider name and the scheme family
//! data that describes it. Adding a provider whose scheme fits an existing
//! family is one entry here plus a vendor test vector in the family file.
//!
//! Owns names (stable once released) and per-provider facts (headers,
//! prefixes, templates, default tolerance), sourced in
//! `/work/shared/providers.md`. Does not own any verification logic; the
//! family files do, and `super::build` is the one exhaustive match over
//! [`Family`].

use std::borrow::Cow;

use super::asymmetric::AsymScheme;
use super::common::{Direction, Part, TimestampFormat, ToleranceSpec};
use super::hmac::HmacSpec;
use super::standard_webhooks::StandardWebhooksSpec;
use super::structured::StructuredSpec;
use super::token::TokenSpec;
use super::url::UrlScheme;
use super::ProviderInfo;
use crate::config::HmacAlgorithm::Sha256;
use crate::config::SignatureEncoding::{Base64, Hex};

/// Which family verifies a provider, with that family's parameters.
#[derive(Debug)]
pub(crate) enum Family {
    /// One signature header over a template (`hmac.rs`).
    Hmac(HmacSpec),
    /// The generic `hmac` provider: an [`HmacSpec`] built from `[route.hmac]`.
    GenericHmac,
    /// `k=v` pairs with timestamp and signatures in one header (`structured.rs`).
    Structured(StructuredSpec),
    /// Standard Webhooks under some header names (`standard_webhooks.rs`).
    StandardWebhooks(StandardWebhooksSpec),
    /// A shared token compared in constant time (`token.rs`).
    Token(TokenSpec),
    /// HMAC over the public URL with body, method or timestamp (`url.rs`).
    Url(UrlScheme),
    /// Ed25519 / ECDSA with public keys (`asymmetric.rs`).
    Asymmetric(AsymScheme),
    /// Signature fields inside the body: Mailgun (`body_fields.rs`).
    BodyFields,
    /// HMAC over a canonical request: Contentful (`canonical.rs`).
    Canonical,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Provider {
    /// The name routes use (`provider = "..."`); lower-case, stable.
    pub(crate) name: &'static str,
    /// How requests from it are verified.
    pub(crate) family: Family,
}

impl Provider {
    /// Describes this provider for `hookguard providers`.
    pub(crate) fn info(&self) -> ProviderInfo {
        match &self.family {
            Family::Hmac(spec) => spec.info(self.name),
            Family::GenericHmac => ProviderInfo {
                name: self.name,
                algorithm: "HMAC-SHA1 | HMAC-SHA256 | HMAC-SHA512",
                headers: "configured in [route.hmac]".into(),
                signed: "configured template over {timestamp} {id} {body} (default {body})".into(),
                tolerance: "300 s, both ways, when a timestamp is configured".into(),
            },
            Family::Structured(spec) => spec.info(self.name),
            Family::StandardWebhooks(spec) => spec.info(self.name),
            Family::Token(spec) => spec.info(self.name),
            Family::Url(scheme) => scheme.info(self.name),
            Family::Asymmetric(scheme) => scheme.info(self.name),
            Family::BodyFields => super::body_fields::info(self.name),
            Family::Canonical => super::canonical::info(self.name),
        }
    }
}

/// The provider named `name` (exact, lower-case match).
pub(crate) fn lookup(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}

const fn secs(default_secs: u64, direction: Direction) -> ToleranceSpec {
    ToleranceSpec {
        default_secs,
        direction,
    }
}

const fn lit(s: &'static str) -> Part {
    Part::Literal(Cow::Borrowed(s))
}

/// Stripe-style `{t}.{body}`.
const T_DOT_BODY: &[Part] = &[Part::Timestamp, lit("."), Part::Body];

/// Every built-in provider, in the order `hookguard providers` lists them.
pub(crate) static PROVIDERS: &[Provider] = &[
    // GitHub: `X-Hub-Signature-256: sha256=<hex>` over the raw body.
    Provider {
        name: "github",
        family: Family::Hmac(HmacSpec::body(
            Sha256,
            "x-hub-signature-256",
            Some("sha256="),
            Hex,
        )),
    },
    // GitLab classic: the secret token sent verbatim; delivery id unsigned.
    Provider {
        name: "gitlab",
        family: Family::Token(TokenSpec {
            header: "x-gitlab-token",
            delivery_id_header: Some("x-gitlab-event-uuid"),
        }),
    },
    // Stripe: `t=<s>,v1=<hex>[,v1=..]` over `{t}.{body}`; key is the whole
    // `whsec_...` string; SDKs check 300 s into the past only.
    Provider {
        name: "stripe",
        family: Family::Structured(StructuredSpec {
            algorithm: Sha256,
            header: "stripe-signature",
            separator: b',',
            timestamp_key: Some("t"),
            timestamp_format: TimestampFormat::UnixSeconds,
            signature_key: "v1",
            encoding: Hex,
            signed: T_DOT_BODY,
            tolerance: secs(300, Direction::PastOnly),
        }),
    },
    // Slack: `v0=<hex>` over `v0:{ts}:{body}`, 300 s both ways.
    Provider {
        name: "slack",
        family: Family::Hmac(HmacSpec {
            algorithm: Sha256,
            header: Cow::Borrowed("x-slack-signature"),
            prefix: Some(Cow::Borrowed("v0=")),
            encoding: Hex,
            timestamp: Some((
                Cow::Borrowed("x-slack-request-timestamp"),
                TimestampFormat::UnixSeconds,
            )),
            id_header: None,
            signed: Cow::Borrowed(&[lit("v0:"), Part::Timestamp, lit(":"), Part::Body]),
            tolerance: secs(300, Direction::BothWays),
        }),
    },
    // Shopify: bare base64 over the raw body.
    Provider {
        name: "shopify",
        family: Family::Hmac(HmacSpec::body(
            Sha256,
            "x-shopify-hmac-sha256",
            None,
            Base64,
        )),
    },
    // Standard Webhooks and Svix: `{id}.{ts}.{body}`, 300 s both ways.
    Provider {
        name: "standard-webhooks",
        family: Family::StandardWebhooks(StandardWebhooksSpec {
            id_header: "webhook-id",
            timestamp_header: "webhook-timestamp",
            signature_header: "webhook-signature",
            tolerance: secs(300, Direction::BothWays),
        }),
    },
    Provider {
        name: "svix",
        family: Family::StandardWebhooks(StandardWebhooksSpec {
            id_header: "svix-id",
            timestamp_header: "svix-timestamp",
            signature_header: "svix-signature",
            tolerance: secs(300, Direction::BothWays),
        }),
    },
    // Anything else of the one-header HMAC shape, from `[route.hmac]`.
    Provider {
        name: "hmac",
        family: Family::GenericHmac,
    },
    // --- families: url, asymmetric, body fields, canonical ---
    // Twilio: HMAC-SHA1 over URL + sorted form params (or URL with bodySHA256).
    Provider {
        name: "twilio",
        family: Family::Url(UrlScheme::Twilio),
    },
    // Square: HMAC-SHA256 over notification URL + body.
    Provider {
        name: "square",
        family: Family::Url(UrlScheme::Square),
    },
    // HubSpot v3: method + URI + body + ms timestamp, 300 s past-only.
    Provider {
        name: "hubspot",
        family: Family::Url(UrlScheme::HubSpotV3),
    },
    // Trello: HMAC-SHA1 over body + callback URL.
    Provider {
        name: "trello",
        family: Family::Url(UrlScheme::Trello),
    },
    // Discord: Ed25519 over timestamp + body; PING answered by the proxy.
    Provider {
        name: "discord",
        family: Family::Asymmetric(AsymScheme::Discord),
    },
    // SendGrid Event Webhook: ECDSA P-256 over timestamp + body.
    Provider {
        name: "sendgrid",
        family: Family::Asymmetric(AsymScheme::SendGrid),
    },
    // Standard Webhooks `v1a`: Ed25519 with a `whpk_` public key.
    Provider {
        name: "standard-webhooks-ed25519",
        family: Family::Asymmetric(AsymScheme::StandardWebhooksEd25519),
    },
    // Mailgun: timestamp + token from the body.
    Provider {
        name: "mailgun",
        family: Family::BodyFields,
    },
    // Contentful: canonical request (method, path, signed headers, body).
    Provider {
        name: "contentful",
        family: Family::Canonical,
    },
];

#[cfg(test)]
mod tests {
    use super::super::testutil::{secrets, verifier};
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_every_entry_builds() {
        let names = super::super::names();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "duplicate {n}");
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{n}"
            );
        }
        for p in PROVIDERS {
            let secret = match p.family {
                Family::StandardWebhooks(_) => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                Family::Canonical => {
                    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                }
                _ => "s3cret",
            };
            if matches!(p.family, Family::GenericHmac | Family::Asymmetric(_)) {
                continue; // needs [route.hmac] / public keys; covered in their files
            }
            assert_eq!(verifier(p.name, &secrets(&[secret])).provider(), p.name);
        }
        let e = super::super::testutil::build_with("githb", &secrets(&["x"]), None, None)
            .err()
            .unwrap();
        assert_eq!(e.field, "provider");
    }

    #[test]
    fn descriptions_come_from_the_table() {
        let all = super::super::describe_all();
        assert_eq!(all.len(), PROVIDERS.len());
        let gh = &all[0];
        assert_eq!((gh.name, gh.algorithm), ("github", "HMAC-SHA256"));
        assert_eq!(gh.headers, "x-hub-signature-256: sha256=<hex>");
        assert_eq!(gh.signed, "{body}");
        let slack = all.iter().find(|p| p.name == "slack").unwrap();
        assert_eq!(slack.signed, "v0:{timestamp}:{body}");
        let stripe = all.iter().find(|p| p.name == "stripe").unwrap();
        assert_eq!(
            stripe.headers,
            "stripe-signature: t=<unix s>,v1=<hex>[,v1=<hex>...]"
        );
        let svix = all.iter().find(|p| p.name == "svix").unwrap();
        assert_eq!(svix.signed, "{id}.{timestamp}.{body}");
        let window = |n: &str| all.iter().find(|p| p.name == n).unwrap().tolerance.clone();
        assert_eq!(window("svix"), "300 s, both ways");
        assert_eq!(window("stripe"), "300 s, past only");
        assert_eq!(window("github"), "none");
        assert_eq!(window("hubspot"), "300 s, past only");
        assert_eq!(window("contentful"), "30 s, past only");
        assert_eq!(window("sendgrid"), "none");
        assert_eq!(window("discord"), "300 s, both ways");
    }
}
