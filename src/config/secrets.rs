//! Secret references: `env:NAME`, `file:PATH` or a literal, and `expires`.
//!
//! Resolution is the one side effect of validation (reading the environment
//! and files), needed to prove at start-up that a route can verify anything.
//! The environment is passed in, so tests never touch the process's.
//! Relative `file:` paths resolve against the directory that holds the
//! configuration file, not the working directory.
//!
//! Also the validation of secret fields (`secrets`, `public_keys`,
//! `admin.token`, `verify_token`): entry forms, expiry, and the warnings for
//! literal or expired secrets. Messages say *which* reference failed and why,
//! never what a value is.

use std::io;
use std::ops::Range;
use std::path::Path;

use super::spanned::Spanned;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::raw::{RawSecret, SecretList, SecretText};
use super::validate::Ctx;
use crate::providers::SecretEntry;
use crate::secret::Secret;

/// Looks up an environment variable; `load` uses the process environment,
/// tests pass a map.
pub(crate) type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// A resolved reference.
pub(crate) struct Resolved {
    /// The bytes, never empty.
    pub value: Secret,
    /// `env:NAME`, `file:PATH` (as resolved) or `literal`.
    pub origin: String,
    /// True for a literal written into the configuration file.
    pub literal: bool,
}

/// Resolves one reference. `base_dir` is the configuration file's directory.
/// A file's contents lose exactly one trailing `\n` or `\r\n` (Kubernetes
/// secret mounts and editors add one); nothing else is trimmed.
pub(crate) fn resolve(reference: &str, base_dir: &Path, env: &Env<'_>) -> Result<Resolved, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        if name.is_empty() {
            return Err(
                "\"env:\" needs a variable name, e.g. \"env:GITHUB_WEBHOOK_SECRET\"".into(),
            );
        }
        let value = env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        if value.is_empty() {
            return Err(format!("environment variable {name} is empty"));
        }
        return Ok(Resolved {
            value: Secret::new(value),
            origin: format!("env:{name}"),
            literal: false,
        });
    }
    if let Some(path) = reference.strip_prefix("file:") {
        if path.is_empty() {
            return Err("\"file:\" needs a path, e.g. \"file:/run/secrets/github\"".into());
        }
        let path = base_dir.join(path);
        let mut bytes = std::fs::read(&path).map_err(|e| {
            format!(
                "cannot read secret file {}: {}",
                path.display(),
                io_reason(&e)
            )
        })?;
        trim_one_newline(&mut bytes);
        if bytes.is_empty() {
            return Err(format!("secret file {} is empty", path.display()));
        }
        return Ok(Resolved {
            value: Secret::new(bytes),
            origin: format!("file:{}", path.display()),
            literal: false,
        });
    }
    if reference.is_empty() {
        return Err("empty secret".into());
    }
    Ok(Resolved {
        value: Secret::new(reference),
        origin: "literal".into(),
        literal: true,
    })
}

/// Removes one trailing `\n` or `\r\n`.
fn trim_one_newline(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

/// A short, stable reason for an I/O failure (no OS error numbers).
pub(crate) fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Parses an `expires` value (an RFC 3339 string, or a TOML offset
/// datetime) into Unix seconds.
pub(crate) fn parse_expires(value: &toml::Value) -> Result<i64, String> {
    const EXAMPLE: &str = "e.g. \"2026-12-01T00:00:00Z\"";
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(dt) => {
            if dt.date.is_none() || dt.time.is_none() || dt.offset.is_none() {
                return Err(format!(
                    "{dt} is not a complete date, time and UTC offset ({EXAMPLE})"
                ));
            }
            dt.to_string()
        }
        other => {
            return Err(format!(
                "expected an RFC 3339 time ({EXAMPLE}), found {}",
                other.type_str()
            ))
        }
    };
    OffsetDateTime::parse(&text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            format!("invalid time {text:?}: expected RFC 3339 with a UTC offset ({EXAMPLE})")
        })
}

// === impl Ctx: secret fields ===

/// The warning `check` prints for a secret written into the file.
pub(crate) const LITERAL_WARNING: &str = "literal secret in the config file; prefer env: or file:";

impl Ctx<'_> {
    /// A single secret reference without expiry (`admin.token`, `verify_token`).
    pub(crate) fn secret_ref(
        &mut self,
        raw: Spanned<SecretText>,
        field: &str,
        warn_literal: bool,
    ) -> Option<Secret> {
        match resolve(&raw.get_ref().0, &self.base_dir, self.env) {
            Ok(r) => {
                if r.literal && warn_literal {
                    self.diag.warn(field, LITERAL_WARNING);
                }
                Some(r.value)
            }
            Err(message) => {
                self.diag.error(raw.span(), field, message);
                None
            }
        }
    }

    /// Resolves `secrets`/`public_keys` entries named `{field}[i]`. Returns the
    /// resolved entries and how many were written (resolved or not), so that
    /// "no secrets" is not reported on top of a failed reference. `basic`:
    /// the provider checks HTTP Basic, so an entry may be `{ user, password }`.
    pub(crate) fn secret_entries(
        &mut self,
        raw: Spanned<SecretList>,
        field: &str,
        warn_literal: bool,
        basic: bool,
    ) -> (Vec<SecretEntry>, usize) {
        let list_span = raw.span();
        let items: Vec<(Range<usize>, RawSecret)> = match raw.into_inner() {
            SecretList::One(item) => vec![(list_span, item)],
            SecretList::Many(items) => items
                .into_iter()
                .map(|s| (s.span(), s.into_inner()))
                .collect(),
        };
        let written = items.len();
        let mut entries = Vec::new();
        for (i, (span, item)) in items.into_iter().enumerate() {
            let field = format!("{field}[{i}]");
            if let Some(entry) = self.secret_entry(span, item, &field, warn_literal, basic) {
                entries.push(entry);
            }
        }
        (entries, written)
    }

    /// Resolves one `secrets`/`public_keys` entry named `field`.
    pub(crate) fn secret_entry(
        &mut self,
        span: Range<usize>,
        item: RawSecret,
        field: &str,
        warn_literal: bool,
        basic: bool,
    ) -> Option<SecretEntry> {
        let (resolved, expires) = match item {
            RawSecret::Plain(s) => (self.resolve_at(&s, span, field)?, None),
            RawSecret::Table {
                value,
                expires,
                user,
                password,
            } => {
                let resolved = match (value, user, password) {
                    (Some(v), None, None) => self.resolve_at(&v.get_ref().0, v.span(), field)?,
                    (None, None, None) => {
                        self.diag.error(
                            span,
                            field,
                            "missing key \"value\" (the secret reference)",
                        );
                        return None;
                    }
                    (value, user, password) => {
                        self.user_password(span, field, basic, value.is_some(), user, password)?
                    }
                };
                (resolved, expires)
            }
        };
        let expires = match expires {
            None => None,
            Some(e) => match parse_expires(e.get_ref()) {
                Ok(t) => Some(t),
                Err(message) => {
                    self.diag
                        .error(e.span(), format!("{field}.expires"), message);
                    return None;
                }
            },
        };
        if resolved.literal && warn_literal {
            self.diag.warn(field, LITERAL_WARNING);
        }
        if let Some(t) = expires.filter(|t| *t <= self.now) {
            let when = crate::clock::rfc3339(t).unwrap_or_else(|| t.to_string());
            self.diag.warn(
                field,
                format!("expired at {when}; it no longer verifies anything"),
            );
        }
        Some(SecretEntry {
            value: resolved.value,
            expires,
            origin: resolved.origin,
        })
    }

    /// Resolves a reference, reporting a failure at `span` under `field`.
    fn resolve_at(&mut self, reference: &str, span: Range<usize>, field: &str) -> Option<Resolved> {
        match resolve(reference, &self.base_dir, self.env) {
            Ok(r) => Some(r),
            Err(message) => {
                self.diag.error(span, field, message);
                None
            }
        }
    }

    /// An HTTP Basic entry `{ user, password }`: both references resolved
    /// and joined as `user:password`, the form the Basic scheme compares.
    /// Refused on a provider that does not check Basic credentials, beside
    /// `value`, or with either half missing.
    fn user_password(
        &mut self,
        span: Range<usize>,
        field: &str,
        basic: bool,
        has_value: bool,
        user: Option<Spanned<SecretText>>,
        password: Option<Spanned<SecretText>>,
    ) -> Option<Resolved> {
        let key = if user.is_some() { "user" } else { "password" };
        if !basic {
            let basic: Vec<&str> = crate::providers::names()
                .into_iter()
                .filter(|n| crate::providers::takes_user_password(n))
                .collect();
            self.diag.error(
                span,
                format!("{field}.{key}"),
                format!(
                    "user and password are HTTP Basic credentials, checked only by {}; this \
                     provider takes value",
                    basic.join(", ")
                ),
            );
            return None;
        }
        if has_value {
            self.diag.error(
                span,
                format!("{field}.value"),
                "set value, or user and password, not both",
            );
            return None;
        }
        let (Some(user), Some(password)) = (user, password) else {
            let missing = if key == "user" { "password" } else { "user" };
            self.diag.error(
                span,
                format!("{field}.{missing}"),
                "missing: HTTP Basic credentials need both user and password",
            );
            return None;
        };
        let user_field = format!("{field}.user");
        let u = self.resolve_at(&user.get_ref().0, user.span(), &user_field)?;
        let p = self.resolve_at(
            &password.get_ref().0,
            password.span(),
            &format!("{field}.password"),
        )?;
        if u.value.expose().contains(&b':') {
            // RFC 7617: the first colon separates user from password.
            self.diag.error(
                user.span(),
                user_field,
                "the user contains ':', which HTTP Basic cannot carry (its first colon ends \
                 the user)",
            );
            return None;
        }
        let joined = [u.value.expose(), b":", p.value.expose()].concat();
        Some(Resolved {
            value: Secret::new(joined),
            origin: format!("user {}, password {}", u.origin, p.origin),
            literal: u.literal || p.literal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_with(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_references() {
        let env = env_with(&[("GH", "s3cret"), ("EMPTY", "")]);
        let r = resolve("env:GH", Path::new(""), &env).unwrap();
        assert_eq!(r.value.expose(), b"s3cret");
        assert_eq!(r.origin, "env:GH");
        assert!(!r.literal);
        let err = resolve("env:NOPE", Path::new(""), &env).err().unwrap();
        assert_eq!(err, "environment variable NOPE is not set");
        let err = resolve("env:EMPTY", Path::new(""), &env).err().unwrap();
        assert_eq!(err, "environment variable EMPTY is empty");
        assert!(resolve("env:", Path::new(""), &env).is_err());
    }

    #[test]
    fn file_references_trim_one_newline_relative_to_base() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("lf"), "abc\n\n").unwrap();
        std::fs::write(dir.join("crlf"), "abc\r\n").unwrap();
        std::fs::write(dir.join("nl-only"), "\n").unwrap();
        let env = env_with(&[]);
        let read = |name: &str| resolve(&format!("file:{name}"), dir, &env);
        assert_eq!(read("lf").unwrap().value.expose(), b"abc\n");
        assert_eq!(read("crlf").unwrap().value.expose(), b"abc");
        assert!(read("nl-only").err().unwrap().ends_with("is empty"));
        let missing = read("missing").err().unwrap();
        assert!(missing.starts_with("cannot read secret file "), "{missing}");
        assert!(missing.ends_with("missing: no such file"), "{missing}");
        let abs = dir.join("crlf");
        let r = resolve(
            &format!("file:{}", abs.display()),
            Path::new("/elsewhere"),
            &env,
        )
        .unwrap();
        assert_eq!(r.origin, format!("file:{}", abs.display()));
    }

    #[test]
    fn literals() {
        let env = env_with(&[]);
        let r = resolve("whsec_abc", Path::new(""), &env).unwrap();
        assert!(r.literal);
        assert_eq!(r.origin, "literal");
        assert_eq!(
            resolve("", Path::new(""), &env).err().unwrap(),
            "empty secret"
        );
    }

    #[test]
    fn expiry_forms() {
        let s = toml::Value::String("2026-12-01T00:00:00Z".into());
        assert_eq!(parse_expires(&s), Ok(1_796_083_200));
        let v: toml::Table =
            toml::from_str("a = 2026-12-01T01:00:00+01:00\nb = 2026-12-01").unwrap();
        assert_eq!(parse_expires(&v["a"]), Ok(1_796_083_200));
        assert!(parse_expires(&v["b"])
            .unwrap_err()
            .contains("not a complete"));
        let bad = parse_expires(&toml::Value::String("next tuesday".into())).unwrap_err();
        assert!(bad.contains("\"next tuesday\""), "{bad}");
        assert!(parse_expires(&toml::Value::Integer(5))
            .unwrap_err()
            .contains("found integer"));
    }
}
