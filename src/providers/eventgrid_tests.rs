//! Azure Event Grid: the key in a query parameter or a header, the
//! SubscriptionValidationEvent answered only once the key matched, and the
//! CloudEvents `OPTIONS` handshake. Shapes from Microsoft Learn "Webhook
//! event delivery" (Azure Event Grid) and CloudEvents 1.0 "HTTP 1.1 Web
//! Hooks" §4.

use http::{HeaderMap, Method, Uri};

use super::super::testutil::{headers, inbound, kind, secrets};
use super::super::{build, Inbound, ProviderParams, Rejection, SharedVerifier};
use crate::body::Payload;

/// The validation event as Microsoft Learn shows it.
const VALIDATION: &str = r#"[{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/xx/resourceGroups/yy/providers/Microsoft.Storage/storageAccounts/zz","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/validate?id=0000000000-0000-0000-0000-00000000000000&t=2022-10-28T04:23:35.1981776Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2022-10-28T04:23:35.1981776Z","metadataVersion":"1","dataVersion":"1"}]"#;

fn eventgrid(query: Option<&str>, header: Option<&str>) -> SharedVerifier {
    build(
        "azure-eventgrid",
        ProviderParams {
            secrets: &secrets(&["k3y"]),
            token_header: header,
            token_query: query,
            ..ProviderParams::default()
        },
    )
    .unwrap()
}

fn at(v: &SharedVerifier, method: &str, path: &str, map: &HeaderMap, body: &str) -> Outcome {
    let method: Method = method.parse().unwrap();
    let uri: Uri = path.parse().unwrap();
    let req = inbound(&method, &uri, map);
    if let Some(reply) = v.challenge(&req) {
        return Outcome::Challenge(reply.is_ok());
    }
    let payload = Payload::from(body.as_bytes());
    let verified = v.precheck(&req).and_then(|()| v.verify(&req, &payload));
    match (verified, v.handshake(&req, &payload)) {
        (Ok(_), Some(reply)) => Outcome::Handshake(String::from_utf8(reply.body).unwrap()),
        (result, _) => Outcome::Verified(kind(&result)),
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Challenge(bool),
    Handshake(String),
    Verified(&'static str),
}

#[test]
fn key_in_the_query_verifies_and_validation_is_answered_after_it() {
    let v = eventgrid(Some("code"), None);
    assert_eq!(v.credential_query(), Some("code"));
    assert!(v.credential_header().is_none());
    let none = headers(&[]);
    let validation = headers(&[("aeg-event-type", b"SubscriptionValidation")]);
    assert_eq!(
        at(&v, "POST", "/eg?code=k3y", &validation, VALIDATION),
        Outcome::Handshake(
            r#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#.into()
        )
    );
    // Without the key the validation is refused like any delivery.
    assert_eq!(
        at(&v, "POST", "/eg?code=nope", &validation, VALIDATION),
        Outcome::Verified("invalid")
    );
    assert_eq!(
        at(&v, "POST", "/eg", &validation, VALIDATION),
        Outcome::Verified("missing")
    );
    // An ordinary event is verified, not answered.
    let event = r#"[{"id":"1","eventType":"Microsoft.Storage.BlobCreated","data":{}}]"#;
    assert_eq!(
        at(&v, "POST", "/eg?code=k3y", &none, event),
        Outcome::Verified("ok")
    );
    assert_eq!(
        at(&v, "POST", "/eg?code=k%33y", &none, event),
        Outcome::Verified("ok")
    );
    assert_eq!(
        at(&v, "POST", "/eg?code=k3y&code=k3y", &none, event),
        Outcome::Verified("invalid")
    );
}

#[test]
fn key_in_a_header_is_the_credential_header() {
    let v = eventgrid(None, Some("x-eg-key"));
    assert_eq!(v.credential_header().map(|h| h.as_str()), Some("x-eg-key"));
    let ok = headers(&[("x-eg-key", b"k3y")]);
    assert_eq!(at(&v, "POST", "/eg", &ok, "[]"), Outcome::Verified("ok"));
    let bad = headers(&[("x-eg-key", b"k3y ")]);
    assert_eq!(
        at(&v, "POST", "/eg?code=k3y", &headers(&[]), "[]"),
        Outcome::Verified("missing")
    );
    assert_eq!(
        at(&v, "POST", "/eg", &bad, "[]"),
        Outcome::Verified("ok"),
        "trimmed like any header"
    );
}

#[test]
fn cloudevents_options_names_the_allowed_origin() {
    let v = eventgrid(Some("code"), None);
    let method = Method::OPTIONS;
    let uri: Uri = "/eg".parse().unwrap();
    let map = headers(&[
        ("webhook-request-origin", b"eventgrid.azure.net"),
        ("webhook-request-rate", b"120"),
    ]);
    let req = inbound(&method, &uri, &map);
    let reply = v.challenge(&req).unwrap().unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    let names: Vec<(&str, &[u8])> = reply
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    assert_eq!(
        names,
        [
            ("webhook-allowed-origin", &b"eventgrid.azure.net"[..]),
            ("webhook-allowed-rate", &b"*"[..]),
        ]
    );
    // OPTIONS without the origin is not the handshake.
    assert_eq!(
        at(&v, "OPTIONS", "/eg", &headers(&[]), ""),
        Outcome::Verified("missing")
    );
    let odd = headers(&[("webhook-request-origin", &[b'a'; 600][..])]);
    assert_eq!(
        at(&v, "OPTIONS", "/eg", &odd, ""),
        Outcome::Challenge(false)
    );
}

#[test]
fn the_key_location_must_be_configured_once() {
    let build_with = |q: Option<&str>, h: Option<&str>| {
        build(
            "azure-eventgrid",
            ProviderParams {
                secrets: &secrets(&["k3y"]),
                token_header: h,
                token_query: q,
                ..ProviderParams::default()
            },
        )
        .err()
        .map(|e| e.field)
    };
    assert_eq!(build_with(None, None).as_deref(), Some("token_query"));
    assert_eq!(
        build_with(Some("code"), Some("x-k")).as_deref(),
        Some("token_query")
    );
    let other = build(
        "github",
        ProviderParams {
            secrets: &secrets(&["s"]),
            token_query: Some("code"),
            ..ProviderParams::default()
        },
    );
    assert_eq!(other.err().unwrap().field, "token_query");
}

/// The field of the error building `provider` with `fetch`, `secrets` and
/// `token_query`, or `None` when it builds.
fn entra_error(
    provider: &str,
    fetch: &super::super::FetchParams,
    keys: &[&str],
    query: Option<&str>,
) -> Option<String> {
    build(
        provider,
        ProviderParams {
            secrets: &secrets(keys),
            token_query: query,
            fetch: Some(fetch),
            ..ProviderParams::default()
        },
    )
    .err()
    .map(|e| e.field)
}

#[test]
fn entra_settings_are_all_or_nothing_and_never_beside_a_key() {
    use super::super::{FetchParams, UrlPrefix};
    let tenant = || Some("72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned());
    let entra = FetchParams {
        tenant: tenant(),
        audience: Some("api://app".into()),
        ..FetchParams::default()
    };
    let eg = |fetch: &FetchParams| entra_error("azure-eventgrid", fetch, &[], None);
    assert_eq!(eg(&entra), None);
    let no_audience = FetchParams {
        audience: None,
        ..entra.clone()
    };
    assert_eq!(eg(&no_audience).as_deref(), Some("audience"));
    let domain = FetchParams {
        tenant: Some("contoso.onmicrosoft.com".into()),
        ..entra.clone()
    };
    assert_eq!(eg(&domain).as_deref(), Some("tenant"));
    let allow = FetchParams {
        allow: Some(vec![UrlPrefix::parse("https://h/").unwrap()]),
        ..entra.clone()
    };
    assert_eq!(eg(&allow).as_deref(), Some("keys.allow"));
    let app_id = FetchParams {
        app_id: Some("a".into()),
        ..entra.clone()
    };
    assert_eq!(eg(&app_id).as_deref(), Some("app_id"));
    let mixed = entra_error("azure-eventgrid", &entra, &["k3y"], Some("code"));
    assert_eq!(mixed.as_deref(), Some("token_query"));
    let graph = |fetch: &FetchParams| entra_error("microsoft-graph", fetch, &["state"], None);
    let ca_only = FetchParams {
        keys: true,
        ..FetchParams::default()
    };
    assert_eq!(graph(&ca_only).as_deref(), Some("app_id"));
    assert_eq!(graph(&entra).as_deref(), Some("audience"));
    let graph_ok = FetchParams {
        app_id: Some("8e460676-ae3f-4b1e-8790-ee0fb5d6148f".into()),
        ..FetchParams::default()
    };
    assert_eq!(graph(&graph_ok), None);
    let elsewhere = entra_error("github", &graph_ok, &["s"], None);
    assert_eq!(elsewhere.as_deref(), Some("app_id"));
}

/// An Event Grid route authenticated with Microsoft Entra ID.
fn entra_route() -> SharedVerifier {
    let fetch = super::super::FetchParams {
        tenant: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
        audience: Some("api://app".into()),
        ..super::super::FetchParams::default()
    };
    build(
        "azure-eventgrid",
        ProviderParams {
            fetch: Some(&fetch),
            ..ProviderParams::default()
        },
    )
    .unwrap()
}

#[test]
fn what_check_reads_of_each_kind_of_route() {
    let key = eventgrid(Some("code"), None);
    assert_eq!(key.provider(), "azure-eventgrid");
    assert_eq!(key.extra_methods(), &[Method::OPTIONS]);
    // A shared key: no window, no key to fetch; Entra: both.
    assert_eq!(key.tolerance(), None);
    assert_eq!(key.key_rule(), None);
    let entra = entra_route();
    assert_eq!(entra.tolerance(), Some(std::time::Duration::from_secs(300)));
    let rule = entra.key_rule().unwrap();
    assert!(rule.starts_with("Entra bearer token: "), "{rule}");
    assert!(
        rule.contains("72f988bf-86f1-41af-91ab-2d7cd011db47"),
        "{rule}"
    );
}

#[test]
fn the_head_alone_refuses_a_missing_or_empty_key_and_names_where() {
    let v = eventgrid(Some("code"), None);
    let method = Method::POST;
    let none = headers(&[]);
    let precheck = |path: &str| {
        let uri: Uri = path.parse().unwrap();
        let req = inbound(&method, &uri, &none);
        v.precheck(&req)
    };
    for path in ["/eg", "/eg?code="] {
        let got = precheck(path);
        assert!(
            matches!(got, Err(Rejection::MissingSignature { .. })),
            "{path}"
        );
    }
    assert!(precheck("/eg?code=k3y").is_ok());
    let uri: Uri = "/eg?code=nope".parse().unwrap();
    let req = inbound(&method, &uri, &none);
    let err = v.verify(&req, &Payload::from(&b"[]"[..])).unwrap_err();
    assert!(err.detail().contains("query parameter \"code\""), "{err:?}");
    let h = eventgrid(None, Some("x-eg-key"));
    let wrong = headers(&[("x-eg-key", b"nope")]);
    let req = Inbound {
        headers: &wrong,
        ..req
    };
    let err = h.verify(&req, &Payload::from(&b"[]"[..])).unwrap_err();
    assert!(err.detail().contains("header \"x-eg-key\""), "{err:?}");
}

#[test]
fn only_a_short_printable_validation_code_is_echoed() {
    let v = eventgrid(Some("code"), None);
    let validation = headers(&[("aeg-event-type", b"SubscriptionValidation")]);
    let with_code = |code: &str| {
        let mut events: serde_json::Value = serde_json::from_str(VALIDATION).unwrap();
        events[0]["data"]["validationCode"] = code.into();
        at(&v, "POST", "/eg?code=k3y", &validation, &events.to_string())
    };
    let longest = "a".repeat(512);
    assert_eq!(
        with_code(&longest),
        Outcome::Handshake(format!(r#"{{"validationResponse":"{longest}"}}"#))
    );
    // Verified and forwarded instead of echoed.
    for odd in ["a".repeat(513), "a\u{1}b".to_owned()] {
        assert_eq!(with_code(&odd), Outcome::Verified("ok"), "{odd:?}");
    }
}

#[test]
fn sign_has_no_signature_to_make() {
    let req = super::super::SignRequest {
        body: b"[]",
        timestamp: 0,
        id: None,
        url: None,
        method: "POST",
    };
    let refused = super::super::sign("azure-eventgrid", b"k3y", &req).err();
    assert_eq!(refused.expect("nothing to sign").field, "provider");
}
