//! `hookguard providers`, and the README's provider table: both generated
//! from the catalog, so neither can drift from the code.

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

/// The README's provider table (Markdown), generated from the catalog; a
/// test keeps README.md identical to it.
pub fn providers_markdown() -> String {
    let mut out = String::from(
        "| provider | algorithm | headers | signed | default tolerance | handshake | source |\n\
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
            r.tolerance,
            r.handshake,
            cell(r.source)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_provider_table_is_generated_from_the_catalog() {
        let readme = include_str!("../../README.md");
        let start = "<!-- providers:start -->\n";
        let from = readme.find(start).expect("README has the start marker") + start.len();
        let to = readme.find("<!-- providers:end -->").expect("end marker");
        let table = providers_markdown();
        if std::env::var_os("HOOKGUARD_BLESS").is_some() && readme[from..to] != table {
            // `HOOKGUARD_BLESS=1 cargo test --lib readme` regenerates the table.
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
            let fresh = format!("{}{table}{}", &readme[..from], &readme[to..]);
            std::fs::write(path, fresh).expect("rewrite README.md");
            return;
        }
        assert_eq!(
            &readme[from..to],
            table,
            "README provider table is stale: regenerate it from tools::providers_markdown()"
        );
        assert_eq!(table.lines().count(), providers::names().len() + 2);
    }
}
