//! A span-only outline of the TOML document: which key sits where.
//!
//! serde reports *where* a problem is (a byte span) but not *which field*;
//! this outline answers "what is the field path at byte N" (for serde and
//! syntax errors) and "where is field `route[2].secrets[1]`" (for errors a
//! provider reports by field name). It also finds every unknown key in one
//! pass, since serde stops at the first. It stores no values, so no secret
//! ever lands in it.

use std::fmt;
use std::ops::Range;

use super::spanned::Spanned;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::Diagnostics;
use super::suggest;

/// One value of the document and where it is.
pub(crate) struct Node {
    span: Range<usize>,
    kind: Kind,
}

enum Kind {
    Table(Vec<Entry>),
    Array(Vec<Node>),
    Scalar,
}

struct Entry {
    key: String,
    value: Node,
}

/// One step of a field path.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Renders `route[2].secrets[1]`.
fn render(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

// === impl Node ===

impl Node {
    /// Parses the document's outline; fails exactly when the TOML is invalid.
    pub(crate) fn parse(src: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(src)
    }

    /// The field path of the innermost key or value covering byte `offset`;
    /// empty when the offset is outside every key (e.g. a blank line).
    pub(crate) fn path_at(&self, src: &str, offset: usize) -> String {
        let mut path = Vec::new();
        self.locate(src, offset, &mut path);
        render(&path)
    }

    fn locate<'a>(&'a self, src: &str, offset: usize, path: &mut Vec<Seg<'a>>) -> bool {
        match &self.kind {
            Kind::Table(entries) => {
                for entry in entries {
                    path.push(Seg::Key(&entry.key));
                    if contains(&entry.key_span(src), offset)
                        || entry.value.locate(src, offset, path)
                    {
                        return true;
                    }
                    path.pop();
                }
            }
            Kind::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    if item.locate(src, offset, path) {
                        return true;
                    }
                    path.pop();
                }
            }
            Kind::Scalar => {}
        }
        contains(&self.span, offset)
    }

    /// The span of the value at `path` (`route[2].secrets[1]`), if the
    /// document has one there.
    pub(crate) fn span_of(&self, path: &str) -> Option<Range<usize>> {
        let mut node = self;
        for part in path.split('.') {
            let (key, indices) = match part.find('[') {
                Some(i) => part.split_at(i),
                None => (part, ""),
            };
            let Kind::Table(entries) = &node.kind else {
                return None;
            };
            node = &entries.iter().find(|e| e.key == key)?.value;
            for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
                match (&node.kind, index.parse::<usize>()) {
                    (Kind::Array(items), Ok(i)) => node = items.get(i)?,
                    _ => return None,
                }
            }
        }
        Some(node.span.clone())
    }

    /// Reports every key that `allowed` does not list for its table. `allowed`
    /// receives the table's path with indices elided (`route[].hmac`) and
    /// returns `None` for tables it does not describe (those are left to serde).
    pub(crate) fn check_keys(
        &self,
        src: &str,
        allowed: &dyn Fn(&str) -> Option<&'static [&'static str]>,
        diag: &mut Diagnostics<'_>,
    ) {
        self.check_keys_at(src, "", &mut Vec::new(), allowed, diag);
    }

    fn check_keys_at<'a>(
        &'a self,
        src: &str,
        shape: &str,
        path: &mut Vec<Seg<'a>>,
        allowed: &dyn Fn(&str) -> Option<&'static [&'static str]>,
        diag: &mut Diagnostics<'_>,
    ) {
        match &self.kind {
            Kind::Table(entries) => {
                let keys = allowed(shape);
                for entry in entries {
                    path.push(Seg::Key(&entry.key));
                    match keys {
                        Some(keys) if !keys.contains(&entry.key.as_str()) => {
                            let hint = match suggest::closest(&entry.key, keys) {
                                Some(k) => format!(" (did you mean {k:?}?)"),
                                None => format!("; allowed keys: {}", keys.join(", ")),
                            };
                            let message = format!("unknown key {:?}{hint}", entry.key);
                            diag.error(entry.key_span(src), render(path), message);
                        }
                        _ => {
                            let child = if shape.is_empty() {
                                entry.key.clone()
                            } else {
                                format!("{shape}.{}", entry.key)
                            };
                            entry.value.check_keys_at(src, &child, path, allowed, diag);
                        }
                    }
                    path.pop();
                }
            }
            Kind::Array(items) => {
                let child = format!("{shape}[]");
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    item.check_keys_at(src, &child, path, allowed, diag);
                    path.pop();
                }
            }
            Kind::Scalar => {}
        }
    }
}

// === impl Entry ===

impl Entry {
    /// Where the key is written. The outline records value spans only (toml
    /// cannot give key spans inside datetimes), so for `key = value` this
    /// looks back from the value over `=` to a bare or quoted key; for a
    /// `[table]` header it is the header itself.
    fn key_span(&self, src: &str) -> Range<usize> {
        let start = self.value.span.start;
        let fallback = start..start;
        let Some(before) = src.get(..start) else {
            return fallback;
        };
        let Some(before_eq) = before.trim_end_matches([' ', '\t']).strip_suffix('=') else {
            return fallback;
        };
        let key_end = before_eq.trim_end_matches([' ', '\t']);
        let key_start = match key_end.chars().last() {
            Some(q @ ('"' | '\'')) => key_end[..key_end.len() - 1].rfind(q),
            Some(_) => Some(
                key_end
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .map_or(0, |i| i + 1),
            ),
            None => None,
        };
        match key_start {
            Some(s) if s < key_end.len() => s..key_end.len(),
            _ => fallback,
        }
    }
}

// === Deserialize ===

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(deserializer)?;
        Ok(Node {
            span: spanned.span(),
            kind: spanned.into_inner(),
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            // toml hands datetimes to serde as a one-entry map under a private
            // key; they are scalars here.
            if key.starts_with("$__toml_private") {
                map.next_value::<IgnoredAny>()?;
                return Ok(Kind::Scalar);
            }
            let value = map.next_value::<Node>()?;
            entries.push(Entry { key, value });
        }
        Ok(Kind::Table(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const DOC: &str = r#"[server]
listen = "x"
tls = { cert = "a", "key" = "b" }

[[route]]
path = "/a"
secrets = ["x", { value = "y", expires = 2026-01-01T00:00:00Z }]
[route.hmac]
header = "h"

[[route]]
path = "/b"
"#;

    fn offset_of(needle: &str) -> usize {
        DOC.find(needle).unwrap()
    }

    #[test]
    fn paths_at_offsets() {
        let tree = Node::parse(DOC).unwrap();
        assert_eq!(tree.path_at(DOC, offset_of("\"x\"")), "server.listen");
        assert_eq!(tree.path_at(DOC, offset_of("\"b\"")), "server.tls.key");
        assert_eq!(tree.path_at(DOC, offset_of("\"key\"")), "server.tls.key");
        assert_eq!(tree.path_at(DOC, offset_of("\"/a\"")), "route[0].path");
        assert_eq!(
            tree.path_at(DOC, offset_of("\"y\"")),
            "route[0].secrets[1].value"
        );
        assert_eq!(
            tree.path_at(DOC, offset_of("2026")),
            "route[0].secrets[1].expires"
        );
        assert_eq!(
            tree.path_at(DOC, offset_of("\"h\"")),
            "route[0].hmac.header"
        );
        assert_eq!(tree.path_at(DOC, offset_of("\"/b\"")), "route[1].path");
        assert_eq!(
            tree.path_at(DOC, offset_of("[[route]]\npath = \"/b")),
            "route[1]"
        );
    }

    #[test]
    fn spans_of_paths() {
        let tree = Node::parse(DOC).unwrap();
        let at = |p: &str| tree.span_of(p).map(|s| &DOC[s]);
        assert_eq!(at("route[0].secrets[0]"), Some("\"x\""));
        assert_eq!(at("route[1].path"), Some("\"/b\""));
        assert_eq!(at("server.tls.cert"), Some("\"a\""));
        assert_eq!(at("route[0].secrets[7]"), None);
        assert_eq!(at("route[0].nothing"), None);
        assert_eq!(at("route[0].path.deeper"), None);
    }

    #[test]
    fn unknown_keys_all_reported_at_the_key() {
        let doc = "[server]\nlisten = 1\nlistne = 2\n\n[[route]]\npath = 1\nbogus = 3\n";
        let tree = Node::parse(doc).unwrap();
        let mut diag = Diagnostics::new(Path::new("t.toml"), doc);
        let allowed = |shape: &str| -> Option<&'static [&'static str]> {
            match shape {
                "" => Some(&["server", "route"]),
                "server" => Some(&["listen"]),
                "route[]" => Some(&["path", "provider"]),
                _ => None,
            }
        };
        tree.check_keys(doc, &allowed, &mut diag);
        let errs = diag.finish().unwrap_err().to_string();
        assert_eq!(
            errs,
            "t.toml:3:1: server.listne: unknown key \"listne\" (did you mean \"listen\"?)\n\
             t.toml:7:1: route[0].bogus: unknown key \"bogus\"; allowed keys: path, provider"
        );
    }
}
