//! `provider = "paypal"` end to end: deliveries signed here (RSA-SHA256 over
//! `transmission_id|transmission_time|webhook_id|crc32(body)`, as PayPal's
//! Java SDK verifies them), the certificate served by a real HTTPS key
//! server on loopback and allowed through `[route.keys] allow` and `ca`.
//! The CRC-32 here is a bitwise reference implementation, independent of
//! the one hookguard uses.

mod common;

use common::*;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;

const SIGNING_KEY: &str = include_str!("data/sns_test_signing_key.pem");
const WEBHOOK_ID: &str = "1JE4291016473214C";
const BODY: &[u8] = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;

/// CRC-32 (IEEE 802.3, reflected, as `java.util.zip.CRC32`), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn cert_pem() -> String {
    let key = rcgen::KeyPair::from_pem(SIGNING_KEY).unwrap();
    rcgen::CertificateParams::new(vec!["messageverificationcerts.paypal.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem()
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The headers PayPal sends for `body`, signed for `webhook_id`.
fn headers(
    id: &str,
    secs: i64,
    webhook_id: &str,
    body: &[u8],
    cert_url: &str,
) -> Vec<(String, String)> {
    let time = rfc3339(secs);
    let message = format!("{id}|{time}|{webhook_id}|{}", crc32(body));
    let der = PrivatePkcs8KeyDer::from_pem_slice(SIGNING_KEY.as_bytes()).unwrap();
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut sig,
    )
    .unwrap();
    vec![
        ("paypal-transmission-id".into(), id.into()),
        ("paypal-transmission-time".into(), time),
        ("paypal-transmission-sig".into(), b64(&sig)),
        ("paypal-cert-url".into(), cert_url.into()),
        ("paypal-auth-algo".into(), "SHA256withRSA".into()),
        ("content-type".into(), "application/json".into()),
    ]
}

async fn deliver(
    proxy: &hookguard::runtime::Running,
    headers: &[(String, String)],
    body: &[u8],
) -> Answer {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    post(proxy, "/paypal", &pairs, body).await
}

#[tokio::test]
async fn signed_deliveries_are_verified_with_the_fetched_certificate() {
    let keys = KeyServer::start().await;
    keys.serve("/v1/notifications/certs/CERT-1", cert_pem());
    let upstream = Upstream::start().await;
    let route = format!(
        "path = \"/paypal\"\nprovider = \"paypal\"\nwebhook_id = \"{WEBHOOK_ID}\"\n{}",
        keys.keys_table()
    );
    let proxy = proxy(&TomlConfig::new().route(&route).build(), &upstream).await;
    let cert = keys.url("/v1/notifications/certs/CERT-1");
    let now = now_secs();

    let good = headers(
        "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        now,
        WEBHOOK_ID,
        BODY,
        &cert,
    );
    let answer = deliver(&proxy, &good, BODY).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(upstream.received()[0].body, BODY);
    assert_eq!(
        deliver(&proxy, &good, BODY).await.text(),
        r#"{"status":"duplicate"}"#
    );

    let mut tampered = BODY.to_vec();
    tampered.push(b' ');
    let fresh = headers("t-2", now, WEBHOOK_ID, BODY, &cert);
    assert_rejected(
        &deliver(&proxy, &fresh, &tampered).await,
        401,
        "invalid_signature",
    );
    let other_hook = headers("t-3", now, "OTHERWEBHOOK", BODY, &cert);
    assert_rejected(
        &deliver(&proxy, &other_hook, BODY).await,
        401,
        "invalid_signature",
    );
    let stale = headers("t-4", now - 7200, WEBHOOK_ID, BODY, &cert);
    assert_rejected(
        &deliver(&proxy, &stale, BODY).await,
        401,
        "timestamp_out_of_tolerance",
    );
    let mut no_algo = headers("t-5", now, WEBHOOK_ID, BODY, &cert);
    no_algo.retain(|(k, _)| k != "paypal-auth-algo");
    assert_rejected(
        &deliver(&proxy, &no_algo, BODY).await,
        401,
        "missing_signature",
    );
    assert_eq!(keys.fetches("/v1/notifications/certs/CERT-1"), 1);

    for url in [
        "https://api.paypal.com/v1/notifications/certs/CERT-1".to_owned(),
        cert.replace("https://", "http://"),
        format!(
            "https://localhost:{}/v1/notifications/certs/CERT-1",
            keys.port
        ),
    ] {
        let forged = headers("t-6", now, WEBHOOK_ID, BODY, &url);
        assert_rejected(
            &deliver(&proxy, &forged, BODY).await,
            401,
            "invalid_signature",
        );
    }
    assert_eq!(
        keys.requests().len(),
        1,
        "no fetch outside the allowed prefix"
    );
    assert_eq!(upstream.count(), 1);
}
