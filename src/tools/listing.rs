//! `hookguard providers`, and the provider table of `docs/providers.md`:
//! both generated from the catalog, so neither can drift from the code.

use std::fmt::Write as _;

use crate::providers;

/// `hookguard providers` as an aligned text table.
pub fn providers_table() -> String {
    let rows = providers::describe_all();
    let cols = |r: &providers::ProviderInfo| {
        [
            r.name.to_owned(),
            r.family.to_owned(),
            r.algorithm.to_owned(),
            r.tolerance.clone(),
            r.handshake.to_owned(),
        ]
    };
    let head = ["NAME", "FAMILY", "ALGORITHM", "TOLERANCE", "HANDSHAKE"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(cols(r)) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: [String; 5]| {
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(out, "{c:w$}  ", w = width[i]);
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, head.map(str::to_owned));
    for r in &rows {
        line(&mut out, cols(r));
        let _ = writeln!(out, "    headers: {}", r.headers);
        let _ = writeln!(out, "    signed:  {}", r.signed);
    }
    out
}

/// The provider table of `docs/providers.md` (Markdown), generated from the
/// catalog; a test keeps the committed file identical to it.
pub fn providers_markdown() -> String {
    let mut out = String::from(
        "| provider | algorithm | headers | signed | tolerance | handshake | source |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in providers::describe_all() {
        let cell = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | `{}` | {} | {} | {} |",
            r.name,
            cell(r.algorithm),
            cell(&r.headers),
            cell(&r.signed),
            default_window(&r.tolerance),
            r.handshake,
            cell(r.source)
        );
    }
    out
}

/// The default window alone (`300 s`), `-` when nothing is timed: every
/// window applies both ways, past and future, so the docs do not repeat a
/// direction.
fn default_window(tolerance: &str) -> &str {
    let window = tolerance.split_once(',').map_or(tolerance, |(w, _)| w);
    if window == "none" {
        "-"
    } else {
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table between these markers in `docs/providers.md` is generated.
    const TABLE_START: &str = "<!-- providers:start -->\n";
    const TABLE_END: &str = "<!-- providers:end -->";

    #[test]
    fn providers_doc_is_generated_from_the_catalog() {
        let doc = include_str!("../../docs/providers.md");
        let from = doc.find(TABLE_START).expect("start marker") + TABLE_START.len();
        let to = doc.find(TABLE_END).expect("end marker");
        let table = providers_markdown();
        if doc[from..to] == table {
            assert_eq!(table.lines().count(), providers::names().len() + 2);
            return;
        }
        if std::env::var_os("HOOKGUARD_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/providers.md");
            let fresh = format!("{}{table}{}", &doc[..from], &doc[to..]);
            std::fs::write(path, fresh).expect("rewrite docs/providers.md");
            return;
        }
        panic!(
            "docs/providers.md is out of date with the provider catalog; regenerate it with\n\
             \n    HOOKGUARD_BLESS=1 cargo test --lib providers_doc\n\n\
             and commit the result"
        );
    }

    #[test]
    fn default_windows_drop_the_direction() {
        assert_eq!(default_window("300 s, both ways"), "300 s");
        assert_eq!(default_window("5 s, past only"), "5 s");
        assert_eq!(default_window("60 s"), "60 s");
        assert_eq!(default_window("none"), "-");
    }
}
