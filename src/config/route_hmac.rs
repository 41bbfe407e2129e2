//! `[route.hmac]` validation: the generic scheme's settings (digest,
//! mode, signature headers, key and timestamp readings, `k=v` keys and the
//! `signed` template) into one [`GenericHmac`], with every error at its
//! field. The template's ambiguity rules live here too, so that a message
//! that could be split two ways is refused before any request.

use http::HeaderName;

use super::raw::{RawHmac, Str};
use super::spanned::Spanned;
use super::suggest;
use super::validate::Ctx;
use crate::providers::{
    GenericHmac, HmacAlgorithm, HmacKeyEncoding, HmacMode, HmacTimestampFormat, SignatureEncoding,
};

/// At most this many `[route.hmac] headers`.
const MAX_SIGNATURE_HEADERS: usize = 8;

/// The placeholders `[route.hmac] signed` may use, besides
/// `{header:Name}`.
const PLACEHOLDERS: &[&str] = &[
    "timestamp",
    "id",
    "body",
    "method",
    "url",
    "path",
    "query",
    "body_sha256_hex",
    "form",
    "secret",
];

impl Ctx<'_> {
    /// `[route.hmac]`: the generic scheme's settings, each checked and
    /// named by its field, or `None` after reporting every error.
    pub(super) fn hmac(&mut self, raw: Spanned<RawHmac>, field: &str) -> Option<GenericHmac> {
        let span = raw.span();
        let raw = raw.into_inner();
        let errors_before = self.diag.error_count();
        let algorithm = self.choice(
            raw.algorithm,
            &format!("{field}.algorithm"),
            &[
                ("md5", HmacAlgorithm::Md5),
                ("sha1", HmacAlgorithm::Sha1),
                ("sha256", HmacAlgorithm::Sha256),
                ("sha512", HmacAlgorithm::Sha512),
            ],
            HmacAlgorithm::Sha256,
        );
        self.warn_weak_digest(algorithm, field);
        let mode = self.choice(
            raw.mode,
            &format!("{field}.mode"),
            &[("hmac", HmacMode::Hmac), ("hash", HmacMode::Hash)],
            HmacMode::Hmac,
        );
        if mode == HmacMode::Hash {
            self.diag.warn(
                &format!("{field}.mode"),
                "\"hash\": a plain digest of a template holding the secret, weaker than an \
                 HMAC (a secret-first template is open to length extension); use it only \
                 for a provider that signs that way",
            );
        }
        let encoding = self.choice(
            raw.encoding,
            &format!("{field}.encoding"),
            &[
                ("hex", SignatureEncoding::Hex),
                ("base64", SignatureEncoding::Base64),
            ],
            SignatureEncoding::Hex,
        );
        let key_encoding = self.choice(
            raw.key_encoding,
            &format!("{field}.key_encoding"),
            &[
                ("utf8", HmacKeyEncoding::Utf8),
                ("hex", HmacKeyEncoding::Hex),
                ("base64", HmacKeyEncoding::Base64),
            ],
            HmacKeyEncoding::Utf8,
        );
        let timestamp_format = raw.timestamp_format.map(|format| {
            use HmacTimestampFormat::*;
            let field = format!("{field}.timestamp_format");
            if raw.timestamp_header.is_none() && raw.timestamp_key.is_none() {
                self.diag.error(
                    format.span(),
                    &field,
                    "is set but neither timestamp_header nor timestamp_key is: there is no \
                     timestamp to read",
                );
            }
            let choices = [
                ("unix", Unix),
                ("unix_ms", UnixMs),
                ("rfc3339", Rfc3339),
                ("iso8601_naive", Iso8601Naive),
            ];
            self.choice(Some(format), &field, &choices, Unix)
        });
        let key_prefix = raw
            .key_prefix
            .map(Spanned::into_inner)
            .filter(|p| !p.is_empty());
        let (header, fallback_headers) =
            self.signature_headers(raw.header, raw.headers, &span, field);
        let timestamp_header = raw
            .timestamp_header
            .as_ref()
            .and_then(|h| self.header_name(h.clone(), &format!("{field}.timestamp_header")));
        let id_header = raw
            .id_header
            .as_ref()
            .and_then(|h| self.header_name(h.clone(), &format!("{field}.id_header")));
        let prefix = raw
            .prefix
            .map(Spanned::into_inner)
            .filter(|p| !p.is_empty());

        let (signed, signed_span) = match raw.signed {
            Some(s) => (s.get_ref().clone(), s.span()),
            None => ("{body}".to_owned(), span),
        };
        let signed_field = format!("{field}.signed");
        match placeholders(&signed) {
            Err(problem) => self.diag.error(signed_span.clone(), &signed_field, problem),
            Ok(used) => {
                let mut problems = Vec::new();
                let covers_body = used
                    .iter()
                    .filter(|p| matches!(**p, "body" | "body_sha256_hex" | "form"))
                    .count();
                if covers_body == 0 {
                    problems.push(
                        "must include {body} (or {body_sha256_hex}, or {form}); otherwise the \
                         body is not authenticated"
                            .to_owned(),
                    );
                } else if covers_body > 1 {
                    problems.push(
                        "must include one of {body}, {body_sha256_hex} or {form}, exactly once"
                            .to_owned(),
                    );
                }
                if used.contains(&"timestamp")
                    && raw.timestamp_header.is_none()
                    && raw.timestamp_key.is_none()
                {
                    problems.push(
                        "uses {timestamp} but neither timestamp_header nor timestamp_key is set"
                            .to_owned(),
                    );
                }
                if raw.timestamp_key.is_some() && !used.contains(&"timestamp") {
                    problems.push(
                        "timestamp_key is set but {timestamp} is not signed; an unsigned \
                         timestamp cannot stop replays"
                            .to_owned(),
                    );
                }
                if used.contains(&"id") && raw.id_header.is_none() {
                    problems.push("uses {id} but id_header is not set".to_owned());
                }
                if raw.id_header.is_some() && !used.contains(&"id") {
                    problems.push(
                        "id_header is set but {id} is not signed; an unsigned id cannot key \
                         de-duplication: add {id} to signed, or remove id_header"
                            .to_owned(),
                    );
                }
                if raw.timestamp_header.is_some() && !used.contains(&"timestamp") {
                    problems.push(
                        "timestamp_header is set but {timestamp} is not signed; \
                         an unsigned timestamp cannot stop replays"
                            .to_owned(),
                    );
                }
                let digits_only = timestamp_format == Some(HmacTimestampFormat::Unix);
                problems.extend(ambiguity(&signed, digits_only));
                problems.extend(secret_place(&used, mode));
                for problem in problems {
                    self.diag.error(signed_span.clone(), &signed_field, problem);
                }
            }
        }
        let pair_separator = raw.pair_separator.map(|sep| {
            let field = format!("{field}.pair_separator");
            self.choice(
                Some(sep),
                &field,
                &[(",", b','), (";", b';'), (" ", b' ')],
                b',',
            )
        });
        let signature_keys: Vec<String> = match raw.signature_keys {
            Some(keys) => {
                let span = keys.span();
                let keys: Vec<String> = keys
                    .into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect();
                if keys.is_empty()
                    || keys
                        .iter()
                        .any(|k| k.is_empty() || k.contains(['=', ',', ';', ' ']))
                {
                    self.diag.error(
                        span,
                        format!("{field}.signature_keys"),
                        "needs one or more non-empty keys without '=', ',', ';' or spaces",
                    );
                }
                keys
            }
            None => Vec::new(),
        };
        let timestamp_key = raw.timestamp_key.map(Spanned::into_inner);
        if self.diag.error_count() != errors_before {
            return None;
        }
        Some(GenericHmac {
            algorithm,
            header: header?,
            prefix,
            encoding,
            timestamp_header,
            timestamp_format,
            id_header,
            signed,
            key_encoding,
            key_prefix,
            signature_keys,
            timestamp_key,
            pair_separator,
            mode,
            fallback_headers,
        })
    }

    /// `header`, or `headers` (tried in order): exactly one of them, each a
    /// valid header name, none twice. The first and the rest, or `None`.
    fn signature_headers(
        &mut self,
        header: Str,
        headers: Option<Spanned<Vec<Spanned<String>>>>,
        span: &std::ops::Range<usize>,
        field: &str,
    ) -> (Option<String>, Vec<String>) {
        let list = match (header, headers) {
            (Some(h), None) => return (self.header_name(h, &format!("{field}.header")), vec![]),
            (None, None) => {
                self.diag.error(
                    span.clone(),
                    format!("{field}.header"),
                    "missing: the header that carries the signature",
                );
                return (None, vec![]);
            }
            (Some(_), Some(list)) => {
                self.diag.error(
                    list.span(),
                    format!("{field}.headers"),
                    "set header or headers, not both",
                );
                return (None, vec![]);
            }
            (None, Some(list)) => list,
        };
        let at = format!("{field}.headers");
        let list_span = list.span();
        let names: Vec<Option<String>> = list
            .into_inner()
            .into_iter()
            .map(|h| self.header_name(h, &at))
            .collect();
        let mut names: Vec<String> = names.into_iter().flatten().collect();
        let unique = names
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if names.is_empty() || names.len() > MAX_SIGNATURE_HEADERS || unique != names.len() {
            self.diag.error(
                list_span,
                &at,
                format!("needs 1 to {MAX_SIGNATURE_HEADERS} different header names, in the order to try them"),
            );
            return (None, vec![]);
        }
        let first = names.remove(0);
        (Some(first), names)
    }

    /// MD5 and SHA-1 are broken as hash functions; inside an HMAC they
    /// still hold, but are accepted only because some providers sign with
    /// nothing else, so `check` says so.
    fn warn_weak_digest(&mut self, algorithm: HmacAlgorithm, field: &str) {
        let name = match algorithm {
            HmacAlgorithm::Md5 => "md5",
            HmacAlgorithm::Sha1 => "sha1",
            HmacAlgorithm::Sha256 | HmacAlgorithm::Sha512 => return,
        };
        self.diag.warn(
            &format!("{field}.algorithm"),
            format!(
                "{name:?} is a legacy digest, accepted only for providers that sign with \
                 nothing else; use \"sha256\" if the provider offers it"
            ),
        );
    }
}

/// Why `{secret}` is misplaced, if it is: exactly once in `mode = "hash"`,
/// never in an HMAC, whose key the secret already is.
fn secret_place(used: &[&str], mode: HmacMode) -> Option<String> {
    let count = used.iter().filter(|p| **p == "secret").count();
    let why = match (mode, count) {
        (HmacMode::Hash, 1) | (HmacMode::Hmac, 0) => return None,
        (HmacMode::Hash, 0) => {
            "mode = \"hash\" needs {secret} in the template: a digest without the secret \
             proves nothing"
        }
        (HmacMode::Hash, _) => "must contain {secret} exactly once",
        (HmacMode::Hmac, _) => {
            "{secret} is only for mode = \"hash\": an HMAC is keyed with the secret instead"
        }
    };
    Some(why.to_owned())
}

/// The placeholders a `signed` template uses, or why it is malformed.
fn placeholders(template: &str) -> Result<Vec<&'static str>, String> {
    let mut used = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("unmatched \"}}\" in {template:?}"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed \"{{\" in {template:?}"))?;
        let name = &after[..close];
        match (
            PLACEHOLDERS.iter().find(|p| **p == name),
            name.strip_prefix("header:"),
        ) {
            (Some(p), _) => used.push(*p),
            (None, Some(header)) if HeaderName::from_bytes(header.as_bytes()).is_ok() => {
                used.push("header");
            }
            (None, Some(header)) => {
                return Err(format!(
                    "{{header:{header}}}: {header:?} is not a valid header name"
                ))
            }
            (None, None) => {
                return Err(format!(
                    "unknown placeholder {{{name}}}{}; allowed: {{timestamp}}, {{id}}, {{body}}, \
                     {{method}}, {{url}}, {{path}}, {{query}}, {{header:Name}}, \
                     {{body_sha256_hex}}, {{form}}, {{secret}}",
                    suggest::did_you_mean(name, PLACEHOLDERS)
                ))
            }
        }
        rest = &after[close + 1..];
    }
    Ok(used)
}

/// Why a well-formed template (braces only around placeholders) could split
/// into its values more than one way, if it could: two placeholders with no
/// literal between them, or a digit next to `{timestamp}` on its body side
/// (Unix timestamps are digits). Then bytes can move between neighbouring
/// values without changing the signature: a delivered event forwarded again
/// under another id, or with another body. Ids are kept apart from their
/// separators when requests are verified.
///
/// `{secret}` is fixed, not read from the request, so it separates like a
/// literal; `{body}{timestamp}` is allowed when `digits_only` (a stated
/// Unix-seconds timestamp, read without a leading zero: a shifted split
/// changes it tenfold, far outside any window).
fn ambiguity(template: &str, digits_only: bool) -> Option<String> {
    for (at, _) in template.match_indices("}{") {
        let left = template[..at].rsplit_once('{').map_or("", |(_, name)| name);
        let right = template[at + 2..]
            .split_once('}')
            .map_or("", |(name, _)| name);
        let allowed = left == "secret"
            || right == "secret"
            || (left, right) == ("url", "form")
            || (digits_only && (left, right) == ("body", "timestamp"));
        if allowed {
            continue;
        }
        return Some(format!(
            "{{{left}}} and {{{right}}} are adjacent with no separator: bytes could move \
             between them without changing the signature, so it would fit other values (a \
             delivered event under another id, another body); put a literal between them, \
             e.g. \"{{{left}}}.{{{right}}}\""
        ));
    }
    // A URL always holds `:` and `/`, and almost always `.`: as the
    // separator after `{url}` (on the body's side) it would refuse every
    // request at run time, so say so now.
    if let Some(at) = template.find("{url}") {
        let body_after = ["{body}", "{body_sha256_hex}", "{form}"]
            .iter()
            .any(|b| template[at..].contains(b));
        let separator = if body_after {
            template[at + "{url}".len()..].chars().next()
        } else {
            template[..at].chars().next_back()
        };
        if let Some(c) = separator.filter(|c| [':', '/', '.'].contains(c)) {
            return Some(format!(
                "the separator after {{url}} is {c:?}, which every URL holds, so every request \
                 would be refused as splitting two ways: use one a URL cannot hold, e.g. \"\\n\""
            ));
        }
    }
    let body = template
        .find("{body}")
        .or_else(|| template.find("{body_sha256_hex}"))
        .or_else(|| template.find("{form}"))?;
    template.match_indices("{timestamp}").find_map(|(at, ts)| {
        let next = if at < body {
            template[at + ts.len()..].chars().next()
        } else {
            template[..at].chars().next_back()
        };
        next.filter(char::is_ascii_digit).map(|digit| {
            format!(
                "the separator next to {{timestamp}} is the digit {digit:?}, which a Unix \
                 timestamp may contain: use a separator that is not a digit"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{ambiguity, placeholders};

    #[test]
    fn signed_templates() {
        assert_eq!(placeholders("{body}"), Ok(vec!["body"]));
        assert_eq!(
            placeholders("{timestamp}.{body}"),
            Ok(vec!["timestamp", "body"])
        );
        assert_eq!(placeholders("v0:{id}:{body}"), Ok(vec!["id", "body"]));
        assert!(placeholders("{bdy}")
            .unwrap_err()
            .contains("did you mean \"body\""));
        assert!(placeholders("{body").unwrap_err().contains("unclosed"));
        assert!(placeholders("body}").unwrap_err().contains("unmatched"));
        assert_eq!(placeholders("plain"), Ok(vec![]));
    }

    #[test]
    fn templates_that_split_one_way_only() {
        for ok in [
            "{body}",
            "{id}.{body}",
            "{timestamp}.{body}",
            "v0:{timestamp}:{body}",
            "{id}.{timestamp}.{body}",
            "{body}.{id}",
            "v1{timestamp}.{body}",
            "{body}|{timestamp}",
        ] {
            assert_eq!(ambiguity(ok, false), None, "{ok}");
        }
        let adjacent = [
            ("{id}{body}", "{id} and {body}"),
            ("{timestamp}{body}", "{timestamp} and {body}"),
            ("{body}{id}", "{body} and {id}"),
            ("v1:{id}{timestamp}.{body}", "{id} and {timestamp}"),
        ];
        for (template, pair) in adjacent {
            let why = ambiguity(template, false).unwrap_or_default();
            assert!(why.starts_with(&format!("{pair} are adjacent")), "{why}");
        }
        for url in [
            "{url}.{body}",
            "{url}:{form}",
            "{method}/{url}/{body_sha256_hex}",
        ] {
            let why = ambiguity(url, false).unwrap_or_default();
            assert!(why.contains("which every URL holds"), "{url}: {why}");
        }
        for fine in ["{url}\n{body}", "{body}\n{url}", "{url}{form}"] {
            assert_eq!(ambiguity(fine, false), None, "{fine}");
        }
        for digit in ["{timestamp}1{body}", "{body}.2{timestamp}"] {
            let why = ambiguity(digit, false).unwrap_or_default();
            assert!(why.contains("is the digit"), "{digit}: {why}");
        }
    }
}
