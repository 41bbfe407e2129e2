//! The providers' machine-readable lists of webhook source addresses: where
//! each is published and how to read it. `hookguard presets update` fetches
//! them; parsing is here, apart from the fetching, so that each format is
//! tested on a stored sample.
//!
//! A feed that holds an entry that is not an address or CIDR, or no entry at
//! all, is refused whole: a half-read list would drop deliveries from the
//! addresses it missed.

use ipnet::IpNet;
use serde_json::Value;

use super::parse_network;

/// How a feed's body lists its addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON document with an array of address strings at this path of
    /// object keys.
    JsonArray(&'static [&'static str]),
    /// Atlassian's `ip-ranges`: `items[]` with a `cidr` and a `direction`
    /// list; only the `egress` ranges are where webhooks come from.
    AtlassianEgress,
    /// One address or CIDR per line; blank lines and `#` comments skipped.
    Lines,
}

/// One provider's feed: every URL is fetched and the ranges joined.
#[derive(Debug, Clone, Copy)]
pub struct Feed {
    /// The preset name (`preset:NAME`).
    pub name: &'static str,
    pub urls: &'static [&'static str],
    pub format: Format,
}

/// Every feed `presets update` fetches.
pub const FEEDS: &[Feed] = &[
    Feed {
        name: "github",
        urls: &["https://api.github.com/meta"],
        format: Format::JsonArray(&["hooks"]),
    },
    Feed {
        name: "stripe",
        urls: &["https://stripe.com/files/ips/ips_webhooks.json"],
        format: Format::JsonArray(&["WEBHOOKS"]),
    },
    Feed {
        name: "atlassian",
        urls: &["https://ip-ranges.atlassian.com/"],
        format: Format::AtlassianEgress,
    },
    Feed {
        name: "pagerduty",
        urls: &[
            "https://developer.pagerduty.com/ip-safelists/webhooks-us-service-region",
            "https://developer.pagerduty.com/ip-safelists/webhooks-eu-service-region",
        ],
        format: Format::Lines,
    },
    Feed {
        name: "buildkite",
        urls: &["https://api.buildkite.com/v2/meta"],
        format: Format::JsonArray(&["webhook_ips"]),
    },
    Feed {
        name: "paddle",
        urls: &["https://api.paddle.com/ips"],
        format: Format::JsonArray(&["data", "ipv4_cidrs"]),
    },
    Feed {
        name: "checkout-com",
        urls: &["https://checkout.com/docs/public/files/ip-lists/webhooks-live.txt"],
        format: Format::Lines,
    },
];

/// The networks a feed's `body` lists.
pub fn parse(format: Format, body: &[u8]) -> Result<Vec<IpNet>, String> {
    let entries = match format {
        Format::JsonArray(path) => json_array(&json(body)?, path)?,
        Format::AtlassianEgress => atlassian_egress(&json(body)?)?,
        Format::Lines => lines(body)?,
    };
    let mut nets = Vec::with_capacity(entries.len());
    for entry in &entries {
        let net = parse_network(entry)
            .ok_or_else(|| format!("{entry:?} is not an IP address or CIDR"))?;
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    if nets.is_empty() {
        return Err("the feed lists no address".into());
    }
    Ok(nets)
}

fn json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))
}

fn json_array(doc: &Value, path: &[&str]) -> Result<Vec<String>, String> {
    let at = path.join(".");
    let mut node = doc;
    for key in path {
        node = node
            .get(key)
            .ok_or_else(|| format!("no {at:?} in the JSON"))?;
    }
    let items = node
        .as_array()
        .ok_or_else(|| format!("{at:?} is not an array"))?;
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{at:?} holds a non-string: {v}"))
        })
        .collect()
}

fn atlassian_egress(doc: &Value) -> Result<Vec<String>, String> {
    let items = doc
        .get("items")
        .and_then(Value::as_array)
        .ok_or("no \"items\" array in the JSON")?;
    let mut cidrs = Vec::new();
    for item in items {
        let egress = item
            .get("direction")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("egress")));
        if !egress {
            continue;
        }
        let cidr = item
            .get("cidr")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("an egress item without a \"cidr\" string: {item}"))?;
        cidrs.push(cidr.to_owned());
    }
    Ok(cidrs)
}

fn lines(body: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8 text".to_owned())?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feed_has_a_unique_name_and_https_urls() {
        for (i, feed) in FEEDS.iter().enumerate() {
            assert!(
                FEEDS[..i].iter().all(|f| f.name != feed.name),
                "{}",
                feed.name
            );
            assert!(feed.urls.iter().all(|u| u.starts_with("https://")));
        }
    }

    /// The networks `sample` (under `tests/data/presets/`) lists, read as
    /// `name`'s feed.
    fn sample(name: &str, file: &str) -> Vec<String> {
        let feed = FEEDS.iter().find(|f| f.name == name).unwrap();
        let path = format!("{}/tests/data/presets/{file}", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(&path).unwrap();
        let nets = parse(feed.format, &body).unwrap_or_else(|e| panic!("{file}: {e}"));
        nets.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_feed_format_reads_its_stored_sample() {
        let github = sample("github", "github-meta.json");
        assert_eq!(github.len(), 9);
        assert_eq!(github[0], "192.30.252.0/22");
        assert_eq!(github[4], "2a0a:a440::/29");
        assert_eq!(
            sample("stripe", "stripe-ips_webhooks.json"),
            [
                "192.0.2.63/32",
                "192.0.2.231/32",
                "198.51.100.37/32",
                "198.51.100.149/32"
            ]
        );
        // Only the egress ranges: the ingress-only one is where Atlassian
        // receives traffic, not where its webhooks come from.
        assert_eq!(
            sample("atlassian", "atlassian-ip-ranges.json"),
            ["192.0.2.0/25", "2001:db8:100::/48"]
        );
        let us = sample("pagerduty", "pagerduty-webhooks-us.txt");
        assert_eq!(us.len(), 13);
        assert_eq!(us[0], "44.242.69.192/32");
        assert_eq!(sample("pagerduty", "pagerduty-webhooks-eu.txt").len(), 12);
        assert_eq!(
            sample("buildkite", "buildkite-meta.json"),
            ["203.0.113.10/32", "203.0.113.64/28"]
        );
        assert_eq!(
            sample("paddle", "paddle-ips.json"),
            ["192.0.2.128/27", "198.51.100.200/32"]
        );
        assert_eq!(
            sample("checkout-com", "checkout-webhooks-live.txt"),
            ["203.0.113.100/32", "203.0.113.101/32", "198.51.100.64/26"]
        );
    }

    #[test]
    fn a_feed_with_a_bad_entry_or_none_is_refused_whole() {
        let github = Format::JsonArray(&["hooks"]);
        assert_eq!(
            parse(github, br#"{"hooks":["192.30.252.0/22","nonsense"]}"#).unwrap_err(),
            "\"nonsense\" is not an IP address or CIDR"
        );
        assert_eq!(
            parse(github, br#"{"hooks":[]}"#).unwrap_err(),
            "the feed lists no address"
        );
        assert_eq!(
            parse(github, br#"{"git":[]}"#).unwrap_err(),
            "no \"hooks\" in the JSON"
        );
        assert!(parse(github, b"<html>")
            .unwrap_err()
            .starts_with("not JSON"));
        assert_eq!(
            parse(Format::Lines, b"\n# only a comment\n").unwrap_err(),
            "the feed lists no address"
        );
    }
}
