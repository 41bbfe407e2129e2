//! Family: PayPal webhooks — RSA-SHA256 with a certificate fetched from the
//! `PAYPAL-CERT-URL` the request names.
//!
//! Facts (PayPal REST API reference "Verify webhook signature", which names
//! the headers; PayPal-Java-SDK `Event.validateReceivedEvent` and
//! `SSLUtil.crc32`, which verify offline):
//! - headers `PAYPAL-TRANSMISSION-ID`, `PAYPAL-TRANSMISSION-TIME` (RFC 3339),
//!   `PAYPAL-TRANSMISSION-SIG` (base64), `PAYPAL-CERT-URL`,
//!   `PAYPAL-AUTH-ALGO` (`SHA256withRSA`);
//! - the signed string is `transmission_id|transmission_time|webhook_id|crc32`,
//!   where `webhook_id` is the id PayPal gave the receiving webhook (the
//!   route's `webhook_id`) and `crc32` the CRC-32 of the raw body as an
//!   unsigned decimal number (`java.util.zip.CRC32.getValue()`).
//!
//! PayPal publishes no rule for the certificate URL's host that could be
//! confirmed (its Java SDK checks the certificate's chain and name instead),
//! so a `paypal` route must list where certificates may come from in
//! `[route.keys] allow`; without it the route is a configuration error.
//!
//! The body is bound to the signature only through CRC-32, which is not a
//! cryptographic hash: someone holding one delivery can make another body
//! with the same CRC-32. The replay key is therefore the signed transmission
//! id, whatever the body, and the transmission time has a window (one hour
//! each way by default), so a captured signature is refused once its
//! transmission is remembered or outside the window.

use std::time::Duration;

use base64::Engine as _;
use http::{HeaderMap, HeaderName};
use ring::signature::RSA_PKCS1_2048_8192_SHA256;

use super::cert::{self, RsaCert};
use super::common::invalid;
use super::common::{
    header_bytes, id_text, TimestampFormat, Tolerance, ToleranceSpec, BASE64_LENIENT,
};
use super::fetched::UrlRule;
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, Inbound, KeyRef, KeyRequest, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;

/// One hour each way: see the module docs.
pub(crate) const ONE_HOUR: ToleranceSpec = ToleranceSpec { default_secs: 3600 };

const TRANSMISSION_ID: HeaderName = HeaderName::from_static("paypal-transmission-id");
const TRANSMISSION_TIME: HeaderName = HeaderName::from_static("paypal-transmission-time");
const TRANSMISSION_SIG: HeaderName = HeaderName::from_static("paypal-transmission-sig");
const CERT_URL: HeaderName = HeaderName::from_static("paypal-cert-url");
const AUTH_ALGO: HeaderName = HeaderName::from_static("paypal-auth-algo");

/// The only algorithm PayPal names.
const SHA256_WITH_RSA: &[u8] = b"SHA256withRSA";

/// Longest transmission id accepted (PayPal's API reference: 50).
const MAX_ID: usize = 256;

/// The headers of one delivery, read and checked.
struct Head<'h> {
    id: &'h str,
    time: &'h str,
    signature: Vec<u8>,
    cert_url: &'h str,
}

/// A built PayPal verifier: the route's webhook id, window and URL rule.
pub(crate) struct PayPalVerifier {
    provider: &'static str,
    webhook_id: String,
    cert_rule: UrlRule,
    tolerance: Tolerance,
}

impl PayPalVerifier {
    /// Builds from the route's `webhook_id`, `[route.keys] allow` and
    /// `tolerance`; the first two are required.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let fetch = FetchParams::read_by(
            params.fetch,
            provider,
            &[FetchSetting::Allow, FetchSetting::WebhookId],
        )?;
        let webhook_id = fetch.webhook_id.ok_or_else(|| BuildError {
            field: "webhook_id".into(),
            message: "required: the id PayPal shows for the webhook that sends to this route \
                      (it is part of what PayPal signs)"
                .into(),
        })?;
        let allow = fetch.allow.ok_or_else(|| BuildError {
            field: "keys.allow".into(),
            message: "required for paypal: PayPal publishes no certificate host rule hookguard \
                      could confirm; list where its certificates may come from, e.g. \
                      [route.keys] allow = [\"https://api.paypal.com/v1/notifications/certs/\"]"
                .into(),
        })?;
        Ok(Self {
            provider,
            webhook_id,
            cert_rule: UrlRule::Allow(allow),
            tolerance: Tolerance::new(ONE_HOUR, params.tolerance),
        })
    }

    /// Every check of the head: each header there once, the algorithm, the
    /// time within the window, the certificate URL under the rule.
    fn head<'h>(&self, headers: &'h HeaderMap, now_ms: i64) -> Result<Head<'h>, Rejection> {
        let id = id_text(&TRANSMISSION_ID, header_bytes(headers, &TRANSMISSION_ID)?)?;
        let time = header_bytes(headers, &TRANSMISSION_TIME)?;
        let signature = header_bytes(headers, &TRANSMISSION_SIG)?;
        let cert_url = header_bytes(headers, &CERT_URL)?;
        let algo = header_bytes(headers, &AUTH_ALGO)?;
        if id.len() > MAX_ID {
            return Err(invalid("paypal-transmission-id is too long"));
        }
        if !algo.eq_ignore_ascii_case(SHA256_WITH_RSA) {
            return Err(invalid("paypal-auth-algo is not SHA256withRSA"));
        }
        self.tolerance
            .check(&TRANSMISSION_TIME, time, TimestampFormat::Rfc3339, now_ms)?;
        let cert_url =
            std::str::from_utf8(cert_url).map_err(|_| invalid("paypal-cert-url is not text"))?;
        self.cert_rule.check("paypal-cert-url", cert_url)?;
        let signature = BASE64_LENIENT
            .decode(signature)
            .map_err(|_| invalid("paypal-transmission-sig is not base64"))?;
        Ok(Head {
            id,
            // Checked as RFC 3339 above, so ASCII.
            time: std::str::from_utf8(time).unwrap_or_default(),
            signature,
            cert_url,
        })
    }
}

impl Verifier for PayPalVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        self.head(req.headers, req.now_ms).map(|_| ())
    }

    fn key_needed(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        let head = self.head(req.headers, req.now_ms)?;
        Ok(Some(KeyRef {
            url: head.cert_url.to_owned(),
            key_id: None,
            parse: cert::parse_pem,
            request: KeyRequest::Get,
        }))
    }

    fn key_rule(&self) -> Option<String> {
        Some(format!(
            "paypal-cert-url under {}; webhook_id {}",
            self.cert_rule.describe(),
            self.webhook_id
        ))
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let head = self.head(req.headers, req.now_ms)?;
        let cert = RsaCert::of(req.key)?;
        let message = signed_string(head.id, head.time, &self.webhook_id, body);
        if !cert.verifies(
            &RSA_PKCS1_2048_8192_SHA256,
            message.as_bytes(),
            &head.signature,
        ) {
            return Err(invalid(
                "the signature does not verify with the certificate",
            ));
        }
        Ok(Verified {
            secret_index: 0,
            event_id: Some(head.id.to_owned()),
            dedup: Dedup::SignedId(head.id.to_owned()),
        })
    }
}

/// `transmission_id|transmission_time|webhook_id|crc32(body)`, the CRC as an
/// unsigned decimal.
pub(crate) fn signed_string(id: &str, time: &str, webhook_id: &str, body: &Payload) -> String {
    let mut crc = crc32fast::Hasher::new();
    for chunk in body.chunks() {
        crc.update(chunk);
    }
    format!("{id}|{time}|{webhook_id}|{}", crc.finalize())
}

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "RSA-SHA256, fetched X.509 certificate",
        headers: "paypal-transmission-id, paypal-transmission-time: <RFC 3339>, \
                  paypal-transmission-sig: <base64>, paypal-cert-url, paypal-auth-algo: SHA256withRSA"
            .into(),
        signed: "{id}|{timestamp}|<webhook_id>|<crc32(body), decimal>".into(),
        ..ProviderInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testutil::inbound;
    use crate::providers::FetchParams;

    #[test]
    fn the_signed_string_has_the_decimal_crc32_of_the_body() {
        // The worked example: PayPal's API reference ids, a small body.
        let body = Payload::from(&br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#[..]);
        assert_eq!(
            signed_string(
                "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
                "2016-02-18T20:01:35Z",
                "1JE4291016473214C",
                &body
            ),
            "69cd13f0-d67a-11e5-baa3-778b53f4ae55|2016-02-18T20:01:35Z|1JE4291016473214C|2325436976"
        );
    }

    fn params(fetch: &FetchParams) -> ProviderParams<'_> {
        ProviderParams {
            fetch: Some(fetch),
            ..ProviderParams::default()
        }
    }

    #[test]
    fn webhook_id_and_allow_are_required() {
        let allow = Some(vec![super::super::UrlPrefix::parse(
            "https://api.paypal.com/",
        )
        .unwrap()]);
        let no_id = FetchParams {
            allow: allow.clone(),
            ..FetchParams::default()
        };
        let err = PayPalVerifier::build("paypal", params(&no_id))
            .err()
            .unwrap();
        assert_eq!(err.field, "webhook_id");
        let no_allow = FetchParams {
            webhook_id: Some("1JE4291016473214C".into()),
            ..FetchParams::default()
        };
        let err = PayPalVerifier::build("paypal", params(&no_allow))
            .err()
            .unwrap();
        assert_eq!(err.field, "keys.allow");
        let topics = FetchParams {
            allow,
            webhook_id: Some("1JE4291016473214C".into()),
            topics: Some(vec!["arn:aws:sns:x".into()]),
            ..FetchParams::default()
        };
        let err = PayPalVerifier::build("paypal", params(&topics))
            .err()
            .unwrap();
        assert_eq!(err.field, "topics");
    }

    /// PayPal's example delivery time, `2016-02-18T20:01:35Z`.
    const SENT_MS: i64 = 1_455_825_695_000;

    fn route() -> PayPalVerifier {
        let fetch = FetchParams {
            allow: Some(vec![super::super::UrlPrefix::parse(
                "https://api.paypal.com/",
            )
            .unwrap()]),
            webhook_id: Some("1JE4291016473214C".into()),
            ..FetchParams::default()
        };
        PayPalVerifier::build("paypal", params(&fetch)).unwrap()
    }

    /// The five headers of a delivery, with `id` and `algo` as given.
    fn head(id: &str, algo: &str) -> HeaderMap {
        let id = id.as_bytes();
        crate::providers::testutil::headers(&[
            ("paypal-transmission-id", id),
            ("paypal-transmission-time", b"2016-02-18T20:01:35Z"),
            ("paypal-transmission-sig", b"c2ln"),
            (
                "paypal-cert-url",
                b"https://api.paypal.com/v1/notifications/certs/CERT-1",
            ),
            ("paypal-auth-algo", algo.as_bytes()),
        ])
    }

    fn precheck(v: &PayPalVerifier, headers: &HeaderMap, now_ms: i64) -> Result<(), Rejection> {
        let uri = http::Uri::from_static("/paypal");
        v.precheck(&Inbound {
            now_ms,
            ..inbound(&http::Method::POST, &uri, headers)
        })
    }

    #[test]
    fn the_head_alone_refuses_a_long_id_another_algorithm_or_an_old_time() {
        let v = route();
        let longest = "i".repeat(MAX_ID);
        assert_eq!(
            precheck(&v, &head(&longest, "SHA256withRSA"), SENT_MS),
            Ok(())
        );
        let too_long = "i".repeat(MAX_ID + 1);
        let err = precheck(&v, &head(&too_long, "SHA256withRSA"), SENT_MS).unwrap_err();
        assert!(err.detail().contains("too long"), "{err:?}");
        let err = precheck(&v, &head("WH-1", "SHA1withRSA"), SENT_MS).unwrap_err();
        assert!(err.detail().contains("SHA256withRSA"), "{err:?}");
        // The default window is an hour each way.
        assert_eq!(v.tolerance(), Some(Duration::from_secs(3600)));
        let ok = head("WH-1", "sha256withrsa");
        assert_eq!(precheck(&v, &ok, SENT_MS + 3_600_000), Ok(()));
        assert!(precheck(&v, &ok, SENT_MS + 3_601_000).is_err());
        assert!(precheck(&v, &ok, SENT_MS - 3_601_000).is_err());
    }

    #[test]
    fn the_route_states_its_provider_and_key_rule() {
        let v = route();
        assert_eq!(v.provider(), "paypal");
        assert_eq!(
            v.key_rule().as_deref(),
            Some(
                "paypal-cert-url under [route.keys] allow = https://api.paypal.com:443/; \
                 webhook_id 1JE4291016473214C"
            )
        );
    }
}
