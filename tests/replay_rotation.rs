//! Replays during a secret rotation, through the real proxy and a real
//! upstream. A provider rotating its secret lists one signature per secret
//! in one header (Stripe `t=..,v1=<new>,v1=<old>`, Paddle, PagerDuty,
//! Standard Webhooks `v1,<a> v1,<b>`, ...). Whoever replays such a request
//! may keep any subset of the signatures, in any order: each still verifies,
//! so none may be forwarded a second time, neither with the route's secrets
//! `[OLD, NEW]` nor after a reload that keeps only `NEW`.
//!
//! The presets are read from the catalog (every one whose signature header is
//! shown as a list, `[<separator>...]`), so a new multi-signature preset is
//! covered as soon as it is added; one of an unknown family fails here until
//! the test knows its keys. Requests are signed with `providers::sign`: the
//! assertions are about the replay key, and the signatures are checked
//! against external vectors in `src/providers/vectors.rs`.

mod common;

use common::*;
use hookguard::providers::{self, ProviderInfo, SignRequest};
use hookguard::runtime;
use ring::signature::{Ed25519KeyPair, KeyPair};

const OLD: &str = "rotation-old-secret";
const NEW: &str = "rotation-new-secret";
const SW_OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_NEW: &str = "whsec_bmV3LXN0YW5kYXJkLXdlYmhvb2tzLWtleQ==";
const ED_OLD: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ED_NEW: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

/// A preset whose signature header may list several signatures.
struct ListPreset {
    name: &'static str,
    family: &'static str,
    /// Between list entries, as `hookguard providers` shows it.
    separator: char,
}

fn list_presets() -> Vec<ListPreset> {
    providers::describe_all()
        .into_iter()
        .filter_map(|r: ProviderInfo| {
            let list = r
                .headers
                .rfind('[')
                .filter(|_| r.headers.ends_with("...]"))?;
            let separator = r.headers[list + 1..].chars().next()?;
            Some(ListPreset {
                name: r.name,
                family: r.family,
                separator,
            })
        })
        .collect()
}

/// (old, new) signing material of a family, as `providers::sign` takes it.
fn signing_keys(p: &ListPreset) -> (&'static str, &'static str) {
    match p.family {
        "structured" => (OLD, NEW),
        "standard-webhooks" => (SW_OLD, SW_NEW),
        "asymmetric" => (ED_OLD, ED_NEW),
        other => panic!(
            "{}: multi-signature family {other:?} is not known to this test",
            p.name
        ),
    }
}

/// The route lines that configure `keys` (signing material) for `p`.
fn key_lines(p: &ListPreset, keys: &[&str]) -> String {
    let quoted = |v: Vec<String>| {
        v.iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if p.family == "asymmetric" {
        let public = keys
            .iter()
            .map(|seed| {
                let pair =
                    Ed25519KeyPair::from_seed_unchecked(&hex::decode(seed).unwrap()).unwrap();
                format!("whpk_{}", b64(pair.public_key().as_ref()))
            })
            .collect();
        format!("public_keys = [{}]\n", quoted(public))
    } else {
        let secrets = keys.iter().map(|k| (*k).to_owned()).collect();
        format!("secrets = [{}]\n", quoted(secrets))
    }
}

/// The configuration with, per preset, the keys that `pick` selects from
/// (old, new).
fn config(
    upstream: &Upstream,
    pick: impl Fn((&'static str, &'static str)) -> Vec<&'static str>,
) -> String {
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[upstream]\nurl = \"{}\"\ntimeout = \"5s\"\n",
        upstream.url()
    );
    for p in list_presets() {
        toml.push_str(&format!(
            "\n[[route]]\npath = \"/r/{}\"\nprovider = \"{}\"\n{}",
            p.name,
            p.name,
            key_lines(&p, &pick(signing_keys(&p)))
        ));
    }
    toml
}

/// One delivery signed with both keys, split into what every variant keeps
/// and the two signature entries.
struct Delivery {
    body: Vec<u8>,
    /// Headers other than the signature list (id, timestamp), as sent.
    others: Vec<(String, String)>,
    header: String,
    /// Entries of the signature header both signings share (a timestamp).
    common: Vec<String>,
    new_sig: String,
    old_sig: String,
}

impl Delivery {
    fn sign(p: &ListPreset) -> Self {
        let body = format!(r#"{{"event":"rotation","provider":"{}"}}"#, p.name).into_bytes();
        let req = SignRequest {
            body: &body,
            timestamp: now_secs(),
            id: Some("evt_rotation_1"),
            url: None,
            method: "POST",
        };
        let (old, new) = signing_keys(p);
        let with_old = providers::sign(p.name, old.as_bytes(), &req).unwrap();
        let with_new = providers::sign(p.name, new.as_bytes(), &req).unwrap();
        // The signature list is the one header the two signings disagree on.
        let (header, new_value) = with_new
            .iter()
            .find(|h| !with_old.contains(h))
            .cloned()
            .unwrap_or_else(|| panic!("{}: no signature header", p.name));
        let old_value = &with_old.iter().find(|(n, _)| *n == header).unwrap().1;
        let entries = |v: &str| -> Vec<String> {
            v.split(p.separator)
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let (new_entries, old_entries) = (entries(&new_value), entries(old_value));
        let only = |a: &[String], b: &[String]| -> String {
            let mine: Vec<&String> = a.iter().filter(|e| !b.contains(e)).collect();
            assert_eq!(mine.len(), 1, "{}: one signature per key", p.name);
            mine[0].clone()
        };
        Self {
            others: with_new
                .iter()
                .filter(|(n, _)| *n != header)
                .cloned()
                .collect(),
            common: new_entries
                .iter()
                .filter(|e| old_entries.contains(e))
                .cloned()
                .collect(),
            new_sig: only(&new_entries, &old_entries),
            old_sig: only(&old_entries, &new_entries),
            header,
            body,
        }
    }

    /// The headers of this delivery with the signature list `sigs`.
    fn headers(&self, p: &ListPreset, sigs: &[&str]) -> Vec<(String, String)> {
        let mut entries: Vec<&str> = self.common.iter().map(String::as_str).collect();
        entries.extend_from_slice(sigs);
        let mut h = self.others.clone();
        h.push((self.header.clone(), entries.join(&p.separator.to_string())));
        h
    }

    /// The genuine list first, then every non-empty subset and reordering of
    /// the two signatures (and each repeated).
    fn lists(&self) -> Vec<Vec<&str>> {
        let (n, o) = (self.new_sig.as_str(), self.old_sig.as_str());
        vec![
            vec![n, o],
            vec![n, o],
            vec![o, n],
            vec![n],
            vec![o],
            vec![n, n],
            vec![o, o, n],
        ]
    }
}

async fn send_list(
    proxy: &runtime::Running,
    p: &ListPreset,
    d: &Delivery,
    sigs: &[&str],
) -> Answer {
    let h = d.headers(p, sigs);
    let refs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    post(proxy, &format!("/r/{}", p.name), &refs, &d.body).await
}

#[tokio::test]
async fn a_listed_signature_subset_is_a_duplicate_during_and_after_rotation() {
    let presets = list_presets();
    for expected in ["stripe", "paddle", "pagerduty", "circleci", "svix"] {
        assert!(
            presets.iter().any(|p| p.name == expected),
            "{expected} is not read as a multi-signature preset"
        );
    }
    let up = Upstream::start().await;
    let dir = temp_dir("replay-rotation");
    let file = dir.path().join("hookguard.toml");
    std::fs::write(&file, config(&up, |(old, new)| vec![old, new])).unwrap();
    let proxy = runtime::start(hookguard::config::load(&file).unwrap())
        .await
        .expect("proxy starts");

    let deliveries: Vec<Delivery> = presets.iter().map(Delivery::sign).collect();
    for (p, d) in presets.iter().zip(&deliveries) {
        let before = up.count();
        for (i, sigs) in d.lists().iter().enumerate() {
            let a = send_list(&proxy, p, d, sigs).await;
            let want = if i == 0 {
                "ok from upstream"
            } else {
                r#"{"status":"duplicate"}"#
            };
            assert_eq!(
                (a.status.as_u16(), a.text().as_str()),
                (200, want),
                "{}: list #{i} of {} signatures",
                p.name,
                sigs.len()
            );
        }
        assert_eq!(
            up.count(),
            before + 1,
            "{}: forwarded more than once",
            p.name
        );
    }

    // The provider finished rotating: the route keeps only NEW. Replays that
    // still verify are still duplicates.
    std::fs::write(&file, config(&up, |(_, new)| vec![new])).unwrap();
    proxy.reload().expect("reload succeeds");
    let forwarded = up.count();
    for (p, d) in presets.iter().zip(&deliveries) {
        for sigs in d.lists().iter().filter(|l| l.contains(&d.new_sig.as_str())) {
            let a = send_list(&proxy, p, d, sigs).await;
            assert_eq!(
                (a.status.as_u16(), a.text().as_str()),
                (200, r#"{"status":"duplicate"}"#),
                "{} after the reload: {} signatures",
                p.name,
                sigs.len()
            );
        }
        let a = send_list(&proxy, p, d, &[&d.old_sig]).await;
        assert_rejected(&a, 401, "invalid_signature");
    }
    assert_eq!(up.count(), forwarded);
}
