//! The keys `docs/configuration.md` documents: the first column of every
//! table headed `| key |`, named after the section it is in
//! (`## \`[server]\`` → `server.listen`, `### \`route.rate_limit\`` →
//! `route.rate_limit.burst`, `### Secret entries` → `secret.value`).

use std::collections::BTreeSet;

/// Every documented key, as `section.key`.
pub fn documented_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string("docs/configuration.md").expect("the reference exists");
    let mut keys = BTreeSet::new();
    let mut section: Option<String> = None;
    let mut in_table = false;
    for (n, line) in text.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("### ").or(line.strip_prefix("## ")) {
            section = section_of(heading);
            in_table = false;
        } else if line.starts_with("| key |") {
            let Some(section) = &section else {
                panic!(
                    "docs/configuration.md:{}: a key table under an unknown heading",
                    n + 1
                );
            };
            assert!(!section.is_empty());
            in_table = true;
        } else if in_table && line.starts_with("| ---") {
        } else if in_table && line.starts_with("| `") {
            let key = line[3..].split('`').next().unwrap_or_default();
            keys.insert(format!("{}.{key}", section.as_deref().unwrap_or_default()));
        } else {
            in_table = false;
        }
    }
    assert!(keys.len() > 40, "too few keys found: {keys:?}");
    keys
}

/// The key prefix of a section heading; `None` for sections that are not
/// configuration tables.
fn section_of(heading: &str) -> Option<String> {
    let named = heading.trim().trim_matches('`');
    let name = named.trim_start_matches('[').trim_end_matches(']');
    match heading.trim() {
        "Secret entries" => Some("secret".to_owned()),
        h if h.starts_with('`') => Some(name.to_owned()),
        _ => None,
    }
}

#[test]
fn headings_name_sections() {
    assert_eq!(section_of("`[server]`").as_deref(), Some("server"));
    assert_eq!(section_of("`[[route]]`").as_deref(), Some("route"));
    assert_eq!(section_of("`route.retry`").as_deref(), Some("route.retry"));
    assert_eq!(section_of("`[route.hmac]`").as_deref(), Some("route.hmac"));
    assert_eq!(section_of("Secret entries").as_deref(), Some("secret"));
    assert_eq!(section_of("Conventions"), None);
}
