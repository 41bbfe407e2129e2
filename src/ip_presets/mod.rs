//! Provider IP presets: the address ranges a provider says its webhooks come
//! from, named so that `allow_ips = ["preset:github"]` need not copy them.
//!
//! A set of presets is a TOML file, one table per provider with `source`,
//! `snapshot` (the date of the data) and `ranges`. The built-in set
//! (`builtin.toml`) is compiled in; `[server] ip_presets = "file:PATH"`
//! replaces it with one `hookguard presets update` wrote (`feeds` knows the
//! providers' machine-readable lists, `update` fetches them).
//!
//! Some providers send from no fixed addresses at all: naming them is an
//! error that says so, rather than a preset that would drop deliveries.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use ipnet::IpNet;
use serde::Deserialize;
use time::Date;

pub mod feeds;
pub mod update;

/// The presets compiled into the binary.
const BUILTIN: &str = include_str!("builtin.toml");

/// Age beyond which `check` warns that a preset in use may be stale.
pub const STALE_AFTER_DAYS: i64 = 30;

/// Providers known to publish no fixed webhook source addresses, and why.
const NO_FIXED_RANGES: &[(&str, &str)] = &[
    (
        "shopify",
        "Shopify publishes no fixed IP range for webhooks (its staff say HMAC verification \
         is the intended check)",
    ),
    (
        "twilio",
        "Twilio sends webhooks from no fixed IP addresses (only its paid Static Proxy for \
         Webhooks has them)",
    ),
];

/// One provider's ranges and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// Where the list is published.
    pub source: String,
    /// The date of the data.
    pub snapshot: Date,
    /// The networks webhooks come from.
    pub ranges: Vec<IpNet>,
}

impl Preset {
    /// Whole days from the snapshot to `today` (negative if in the future).
    pub fn age_days(&self, today: Date) -> i64 {
        (today - self.snapshot).whole_days()
    }
}

/// A set of presets by provider name, and where the set was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPresets {
    presets: BTreeMap<String, Preset>,
    /// `built-in`, or the file's path.
    origin: String,
}

/// The presets file as written: `[name] source, snapshot, ranges`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreset {
    source: String,
    snapshot: String,
    ranges: Vec<String>,
}

impl IpPresets {
    /// The presets compiled into the binary.
    pub fn builtin() -> Arc<IpPresets> {
        static SET: OnceLock<Arc<IpPresets>> = OnceLock::new();
        let set = SET.get_or_init(|| {
            // Tested (`the_built_in_set_parses`): a failure is a build defect.
            let parsed = IpPresets::parse(BUILTIN, "built-in").unwrap_or_else(|e| {
                panic!("the built-in IP presets do not parse: {e}");
            });
            Arc::new(parsed)
        });
        Arc::clone(set)
    }

    /// Parses a presets file; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<IpPresets, String> {
        let raw: BTreeMap<String, RawPreset> =
            toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let mut presets = BTreeMap::new();
        for (name, raw) in raw {
            let preset = parse_preset(raw).map_err(|e| format!("[{name}]: {e}"))?;
            presets.insert(name, preset);
        }
        Ok(IpPresets {
            presets,
            origin: origin.to_owned(),
        })
    }

    /// `built-in`, or the file the set was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The presets, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Preset)> {
        self.presets.iter().map(|(name, p)| (name.as_str(), p))
    }

    /// The preset `name`, or why there is none (a message naming the
    /// alternatives).
    pub fn lookup(&self, name: &str) -> Result<&Preset, String> {
        if let Some(preset) = self.presets.get(name) {
            return Ok(preset);
        }
        if let Some((_, why)) = NO_FIXED_RANGES.iter().find(|(n, _)| *n == name) {
            return Err(format!(
                "{why}, so no address list can admit its deliveries: remove it from allow_ips \
                 and rely on the signature check"
            ));
        }
        if feeds::FEEDS.iter().any(|f| f.name == name) {
            let origin = match self.origin.as_str() {
                "built-in" => "the built-in presets (its list was not confirmed when this \
                               version was built)"
                    .to_owned(),
                file => format!("{file} (was its feed fetched?)"),
            };
            return Err(format!(
                "preset {name:?} is not in {origin}: run `hookguard presets update --out FILE` \
                 and set [server] ip_presets = \"file:FILE\""
            ));
        }
        Err(format!(
            "unknown preset {name:?}; known presets: {}",
            self.known_names().join(", ")
        ))
    }

    /// Every name this set or `presets update` can provide.
    fn known_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.presets.keys().map(String::as_str).collect();
        names.extend(feeds::FEEDS.iter().map(|f| f.name));
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The set with `name` set to `preset` (for `presets update`).
    pub(crate) fn with(mut self, name: &str, preset: Preset) -> IpPresets {
        self.presets.insert(name.to_owned(), preset);
        self
    }

    /// The set as a presets file, `header` lines first (as comments).
    pub fn to_toml(&self, header: &[String]) -> String {
        let mut out = String::new();
        for line in header {
            out.push_str(&format!("# {line}\n"));
        }
        for (name, preset) in &self.presets {
            out.push_str(&format!("\n[{name}]\n"));
            out.push_str(&format!("source = {}\n", toml_string(&preset.source)));
            out.push_str(&format!("snapshot = \"{}\"\n", date_text(preset.snapshot)));
            out.push_str("ranges = [\n");
            for range in &preset.ranges {
                out.push_str(&format!("    \"{}\",\n", shortest(range)));
            }
            out.push_str("]\n");
        }
        out
    }
}

fn parse_preset(raw: RawPreset) -> Result<Preset, String> {
    let snapshot = parse_date(&raw.snapshot)
        .ok_or_else(|| format!("snapshot {:?} is not a YYYY-MM-DD date", raw.snapshot))?;
    let ranges = raw
        .ranges
        .iter()
        .map(|r| parse_network(r).ok_or_else(|| format!("{r:?} is not an IP address or CIDR")))
        .collect::<Result<Vec<_>, _>>()?;
    if ranges.is_empty() {
        // An empty list would admit every address (`allow_ips = []`).
        return Err("ranges is empty".into());
    }
    Ok(Preset {
        source: raw.source,
        snapshot,
        ranges,
    })
}

/// An address (as a one-host network) or a CIDR.
pub(crate) fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .ok()
}

/// A one-host network as its bare address, any other as a CIDR.
fn shortest(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

pub fn date_text(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_set_parses() {
        let set = IpPresets::builtin();
        let github = set.lookup("github").unwrap();
        assert!(github.ranges.contains(&"140.82.112.0/20".parse().unwrap()));
        assert!(github.source.contains("api.github.com/meta"));
        for (name, preset) in set.iter() {
            assert!(!preset.ranges.is_empty(), "{name}");
        }
    }

    #[test]
    fn providers_without_fixed_ranges_and_unknown_names_are_explained() {
        let set = IpPresets::builtin();
        let shopify = set.lookup("shopify").unwrap_err();
        assert!(shopify.contains("no fixed IP range"), "{shopify}");
        let twilio = set.lookup("twilio").unwrap_err();
        assert!(twilio.contains("no fixed IP addresses"), "{twilio}");
        let stripe = set.lookup("stripe").unwrap_err();
        assert!(stripe.contains("hookguard presets update"), "{stripe}");
        let unknown = set.lookup("githib").unwrap_err();
        assert!(
            unknown.starts_with("unknown preset \"githib\"; known presets: atlassian, brevo, "),
            "{unknown}"
        );
    }

    #[test]
    fn a_written_set_reads_back_the_same() {
        let set = IpPresets::builtin();
        let text = set.to_toml(&["written by a test".into()]);
        let again = IpPresets::parse(&text, "again").unwrap();
        assert_eq!(again.presets, set.presets);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let bad = |text: &str| IpPresets::parse(text, "f").unwrap_err();
        let ok = "source = \"s\"\nsnapshot = \"2026-01-02\"\n";
        assert_eq!(
            bad(&format!("[x]\n{ok}ranges = [\"10.0.0.300\"]")),
            "[x]: \"10.0.0.300\" is not an IP address or CIDR"
        );
        assert_eq!(
            bad(&format!("[x]\n{ok}ranges = []")),
            "[x]: ranges is empty"
        );
        assert_eq!(
            bad("[x]\nsource = \"s\"\nsnapshot = \"2026-1-2\"\nranges = [\"10.0.0.1\"]"),
            "[x]: snapshot \"2026-1-2\" is not a YYYY-MM-DD date"
        );
        assert!(bad("[x]\nsource = 1").contains("invalid type"));
    }
}
