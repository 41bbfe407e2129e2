//! The SNS family against the synthetic vector (a self-signed certificate
//! standing in for AWS's, v1 and v2 signatures of the AWS docs' sample
//! notification) and the pinned URL rules.

use http::{HeaderMap, Method, Uri};
use serde_json::Value;

use super::*;
use crate::providers::testutil::inbound;
use crate::providers::{build, FetchParams, SharedVerifier};

const VECTOR: &str = include_str!("../../tests/data/sns_synthetic_vector.json");
const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";
/// The vector's `Timestamp`, 2012-05-02T00:54:06.655Z.
const SENT_MS: i64 = 1_335_920_046_655;

fn vector() -> Value {
    serde_json::from_str(VECTOR).unwrap()
}

fn sns(topics: &[&str], confirm: Option<SnsConfirm>) -> SharedVerifier {
    let fetch = FetchParams {
        topics: Some(topics.iter().map(|t| (*t).to_owned()).collect()),
        sns_confirm: confirm,
        ..FetchParams::default()
    };
    build("aws-sns", params(&fetch)).expect("builds")
}

fn params(fetch: &FetchParams) -> ProviderParams<'_> {
    ProviderParams {
        fetch: Some(fetch),
        ..ProviderParams::default()
    }
}

/// `key_needed`, then `verify` with the vector's certificate as the fetched
/// key, at `now_ms`.
fn run(v: &SharedVerifier, body: &Value, now_ms: i64) -> Result<Verified, Rejection> {
    let (method, uri, headers) = (Method::POST, Uri::from_static("/sns"), HeaderMap::new());
    let body = Payload::from(serde_json::to_vec(body).unwrap());
    let cert = cert::parse_pem(vector()["cert_pem"].as_str().unwrap().as_bytes()).unwrap();
    let mut req = Inbound {
        method: &method,
        uri: &uri,
        headers: &headers,
        public_url: "",
        now_ms,
        key: None,
    };
    let key = v.key_needed(&req, &body)?.expect("names a key");
    assert_eq!(key.url, body_field(&body, "SigningCertURL"));
    req.key = Some(&cert);
    v.verify(&req, &body)
}

fn body_field(body: &Payload, name: &str) -> String {
    let v: Value = serde_json::from_slice(&body.contiguous()).unwrap();
    v[name].as_str().unwrap().to_owned()
}

#[test]
fn the_synthetic_vector_verifies_in_both_versions() {
    let v = sns(&[TOPIC], None);
    for version in ["v1", "v2"] {
        let verified = run(&v, &vector()[version], SENT_MS).expect(version);
        let id = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324";
        assert_eq!(verified.dedup, Dedup::SignedId(id.into()));
        assert_eq!(verified.event_id.as_deref(), Some(id));
    }
}

#[test]
fn the_string_to_sign_is_the_vectors() {
    let m: Message = serde_json::from_value(vector()["v1"].clone()).unwrap();
    let signed = string_to_sign(&m, Kind::Notification).unwrap();
    assert_eq!(
        signed,
        vector()["string_to_sign"].as_str().unwrap().as_bytes()
    );
}

#[test]
fn a_changed_field_or_version_is_refused() {
    let v = sns(&[TOPIC], None);
    for (field, value) in [
        ("Message", "Hello world?"),
        ("Subject", "Other"),
        ("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf325"),
        ("Type", "UnsubscribeConfirmation"),
        ("SignatureVersion", "2"),
    ] {
        let mut body = vector()["v1"].clone();
        body[field] = value.into();
        assert!(
            matches!(
                run(&v, &body, SENT_MS),
                Err(Rejection::InvalidSignature { .. })
            ),
            "{field}"
        );
    }
    let mut no_subject = vector()["v1"].clone();
    no_subject.as_object_mut().unwrap().remove("Subject");
    assert!(run(&v, &no_subject, SENT_MS).is_err());
}

#[test]
fn a_foreign_topic_is_refused_before_any_key_is_named() {
    let v = sns(&["arn:aws:sns:us-west-2:123456789012:Other"], None);
    let err = run(&v, &vector()["v2"], SENT_MS).unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
    assert!(err.detail().contains("topics"), "{err:?}");
}

#[test]
fn the_timestamp_window_is_an_hour_each_way() {
    let v = sns(&[TOPIC], None);
    assert_eq!(v.tolerance(), Some(Duration::from_secs(3600)));
    assert!(run(&v, &vector()["v2"], SENT_MS + 3_599_000).is_ok());
    for now in [SENT_MS + 3_601_000, SENT_MS - 3_601_000] {
        let err = run(&v, &vector()["v2"], now).unwrap_err();
        assert_eq!(err.code(), "timestamp_out_of_tolerance");
    }
}

#[test]
fn only_pinned_certificate_urls_are_named() {
    let v = sns(&[TOPIC], None);
    let good = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem";
    let cn = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem";
    for url in [good, cn] {
        let mut body = vector()["v2"].clone();
        body["SigningCertURL"] = url.into();
        assert!(!matches!(
            run(&v, &body, SENT_MS),
            Err(Rejection::InvalidSignature { ref detail }) if detail.contains("before any fetch")
        ));
    }
    for url in [
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
        "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
        "https://sns.us-west-2.amazonaws.com:8443/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
        "https://user@sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
        "https://evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
        "https://sns.us-west-2.amazonaws.com/other/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem?x=1",
        "https://s3.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem",
    ] {
        let mut body = vector()["v2"].clone();
        body["SigningCertURL"] = url.into();
        let err = run(&v, &body, SENT_MS).unwrap_err();
        assert!(
            err.code() == "invalid_signature" && err.detail().contains("before any fetch"),
            "{url}: {err:?}"
        );
    }
}

#[test]
fn a_message_that_is_not_sns_json_is_refused() {
    let v = sns(&[TOPIC], None);
    for body in [
        serde_json::json!([1, 2]),
        serde_json::json!({"Type": 1}),
        serde_json::json!({"Type": "Notification"}),
    ] {
        assert!(run(&v, &body, SENT_MS).is_err(), "{body}");
    }
    let dup = br#"{"Signature":"a","Signature":"b"}"#;
    let (method, uri, headers) = (Method::POST, Uri::from_static("/"), HeaderMap::new());
    let req = Inbound {
        now_ms: SENT_MS,
        ..inbound(&method, &uri, &headers)
    };
    let err = v.key_needed(&req, &Payload::from(&dup[..])).unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
}

#[test]
fn topics_are_required_and_other_settings_refused() {
    let none = FetchParams::default();
    let err = build("aws-sns", params(&none)).err().unwrap();
    assert_eq!(err.field, "topics");
    let url = FetchParams {
        topics: Some(vec![TOPIC.into()]),
        url: Some("https://example.com/cert.pem".into()),
        ..FetchParams::default()
    };
    assert_eq!(
        build("aws-sns", params(&url)).err().unwrap().field,
        "keys.url"
    );
    let not_arn = FetchParams {
        topics: Some(vec!["MyTopic".into()]),
        ..FetchParams::default()
    };
    assert_eq!(
        build("aws-sns", params(&not_arn)).err().unwrap().field,
        "topics"
    );
}

/// `key_needed` (every check before the signature) for `body` with these
/// headers, at the vector's time.
fn needed(v: &SharedVerifier, body: &Value, headers: &HeaderMap) -> Result<(), Rejection> {
    let (method, uri) = (Method::POST, Uri::from_static("/sns"));
    let req = Inbound {
        method: &method,
        uri: &uri,
        headers,
        public_url: "",
        now_ms: SENT_MS,
        key: None,
    };
    let body = Payload::from(serde_json::to_vec(body).unwrap());
    v.key_needed(&req, &body).map(|_| ())
}

#[test]
fn a_message_id_is_one_to_256_printable_characters() {
    let v = sns(&[TOPIC], None);
    let with_id = |id: &str| {
        let mut body = vector()["v2"].clone();
        body["MessageId"] = id.into();
        needed(&v, &body, &HeaderMap::new())
    };
    assert!(with_id(&"a".repeat(MAX_ID)).is_ok());
    for bad in [String::new(), "a".repeat(MAX_ID + 1), "a b".into()] {
        let err = with_id(&bad).unwrap_err();
        assert!(err.detail().contains("MessageId"), "{bad:?}: {err:?}");
    }
}

#[test]
fn the_type_header_must_agree_once() {
    let v = sns(&[TOPIC], None);
    let h = |values: &[&str]| {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(MESSAGE_TYPE_HEADER, value.parse().unwrap());
        }
        map
    };
    let body = vector()["v2"].clone();
    assert!(needed(&v, &body, &h(&["Notification"])).is_ok());
    for bad in [&["SubscriptionConfirmation"][..], &["Notification"; 2]] {
        let err = needed(&v, &body, &h(bad)).unwrap_err();
        assert!(err.detail().contains("x-amz-sns-message-type"), "{bad:?}");
    }
}

#[test]
fn absent_fields_only_subject_may_be() {
    let mut m: Message = serde_json::from_value(vector()["v1"].clone()).unwrap();
    m.Subject = None;
    let signed = string_to_sign(&m, Kind::Notification).unwrap();
    assert!(!String::from_utf8(signed).unwrap().contains("Subject"));
    m.Message = None;
    let err = string_to_sign(&m, Kind::Notification).unwrap_err();
    assert!(err.detail().contains("Message"), "{err:?}");
}

#[test]
fn the_route_names_its_provider_and_key_rule() {
    let v = sns(&[TOPIC], None);
    assert_eq!(v.provider(), "aws-sns");
    assert_eq!(
        v.key_rule().as_deref(),
        Some(&*format!(
            "SigningCertURL under {CERT_RULE}; topics {TOPIC}"
        ))
    );
    // A region is three or more of [a-z0-9-].
    let host = |h: &str| is_sns_host(&HttpsUrl::parse(&format!("https://{h}/")).unwrap());
    assert!(host("sns.us-east-1.amazonaws.com"));
    assert!(!host("sns.ab.amazonaws.com"));
}
