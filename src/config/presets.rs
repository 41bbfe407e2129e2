//! `allow_ips` entries naming a provider preset (`"preset:github"`), and
//! `[server] ip_presets`, the file that replaces the built-in presets.
//! The presets themselves, and why some providers have none, are
//! `crate::ip_presets`'.

use std::collections::BTreeSet;
use std::sync::Arc;

use ipnet::IpNet;

use super::raw::Str;
use super::spanned::Spanned;
use super::validate::Ctx;
use super::Route;
use crate::ip_presets::{IpPresets, STALE_AFTER_DAYS};

/// The prefix of an `allow_ips` entry that names a preset.
const PRESET: &str = "preset:";

impl Ctx<'_> {
    /// `[server] ip_presets = "file:PATH"`: the presets `presets update`
    /// wrote, read now (and again at every reload); the built-in set when
    /// absent.
    pub(crate) fn ip_presets(&mut self, raw: Str) -> Arc<IpPresets> {
        let Some(raw) = raw else {
            return IpPresets::builtin();
        };
        let field = "server.ip_presets";
        let Some(path) = raw.get_ref().strip_prefix("file:") else {
            self.diag.error(
                raw.span(),
                field,
                "expected \"file:PATH\" (a file written by `hookguard presets update`)",
            );
            return IpPresets::builtin();
        };
        let path = self.path(path);
        let read = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| {
                IpPresets::parse(&text, &path.display().to_string())
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
        match read {
            Ok(set) => Arc::new(set),
            Err(message) => {
                self.diag.error(raw.span(), field, message);
                IpPresets::builtin()
            }
        }
    }

    /// A route's `allow_ips`: networks, and presets expanded to theirs.
    /// Returns the networks and the names of the presets used.
    pub(crate) fn allow_ips(
        &mut self,
        raw: Option<Vec<Spanned<String>>>,
        field: &str,
        presets: &IpPresets,
    ) -> (Vec<IpNet>, Vec<String>) {
        let (mut nets, mut used) = (Vec::new(), Vec::new());
        for (i, item) in raw.into_iter().flatten().enumerate() {
            let text = item.get_ref().trim();
            if let Some(name) = text.strip_prefix(PRESET) {
                match presets.lookup(name) {
                    Ok(preset) => {
                        nets.extend(preset.ranges.iter().copied());
                        used.push(name.to_owned());
                    }
                    Err(message) => self
                        .diag
                        .error(item.span(), format!("{field}[{i}]"), message),
                }
                continue;
            }
            match crate::ip_presets::parse_network(text) {
                Some(net) => nets.push(net),
                None => self.diag.error(
                    item.span(),
                    format!("{field}[{i}]"),
                    format!(
                        "invalid network {:?}: expected a CIDR such as \"10.0.0.0/8\", an IP \
                         address, or \"preset:NAME\"",
                        item.get_ref()
                    ),
                ),
            }
        }
        (nets, used)
    }

    /// A warning for each preset in use whose data is older than
    /// [`STALE_AFTER_DAYS`]: providers change their lists.
    pub(crate) fn warn_stale_presets(&mut self, routes: &[Route], presets: &IpPresets) {
        let used: BTreeSet<&str> = routes
            .iter()
            .flat_map(|r| r.ip_presets.iter().map(String::as_str))
            .collect();
        let today = time::OffsetDateTime::from_unix_timestamp(self.now)
            .map_or_else(|_| time::OffsetDateTime::now_utc().date(), |t| t.date());
        for name in used {
            let Ok(preset) = presets.lookup(name) else {
                continue;
            };
            let age = preset.age_days(today);
            if age > STALE_AFTER_DAYS {
                self.diag.warn(
                    &format!("preset:{name}"),
                    format!(
                        "its list is {age} days old (snapshot {}, {}); refresh it with \
                         `hookguard presets update`",
                        crate::ip_presets::date_text(preset.snapshot),
                        presets.origin()
                    ),
                );
            }
        }
    }
}
