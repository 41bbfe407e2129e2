//! `[[route]]` validation: one raw route → one [`Route`] with its verifier.
//!
//! Owns the per-route rules: unique paths, known providers (with a
//! suggestion), at least one secret or public key, `[route.hmac]` exactly
//! when `provider = "hmac"`, per-route overrides, and the default method list.
//! The verifier is built only for a route with no other error, through the
//! builder the caller passed in; a `BuildError` is reported at the field it
//! names. Field paths are `route[i].…` with `i` 0-based in file order.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use super::spanned::Spanned;
use http::{HeaderName, Method};

use super::keys::RawFetch;
use super::raw::{RawHmac, RawRateLimit, RawRetry, RawRoute, RawSecret, SecretList, Str};
use super::suggest;
use super::validate::Ctx;
use super::{Delivery, RateLimit, RetryPolicy, Route, ServerConfig, UpstreamConfig};
use crate::providers::{
    self, GenericHmac, HmacAlgorithm, HmacKeyEncoding, HmacMode, HmacTimestampFormat,
    ProviderParams, SecretEntry, SignatureEncoding,
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
    "secret",
];

impl Ctx<'_> {
    /// Validates every route; a route with any error is left out (its errors
    /// are recorded, so the whole configuration is rejected).
    pub(crate) fn routes(
        &mut self,
        raw: Vec<Spanned<RawRoute>>,
        server: &ServerConfig,
        upstream: Option<&UpstreamConfig>,
    ) -> Vec<Route> {
        let mut seen = HashMap::new();
        let mut routes = Vec::new();
        for (i, raw) in raw.into_iter().enumerate() {
            if let Some(route) = self.route(i, raw, server, upstream, &mut seen) {
                routes.push(route);
            }
        }
        routes
    }

    fn route(
        &mut self,
        i: usize,
        raw: Spanned<RawRoute>,
        server: &ServerConfig,
        default_upstream: Option<&UpstreamConfig>,
        seen: &mut HashMap<String, usize>,
    ) -> Option<Route> {
        let errors_before = self.diag.error_count();
        let route_span = raw.span();
        let r = raw.into_inner();
        let name = format!("route[{i}]");
        let at = |field: &str| format!("route[{i}].{field}");

        let path = match r.path {
            Some(p) => self.route_path(p, &at("path"), i, seen),
            None => {
                self.diag
                    .error(route_span.clone(), &name, "missing key \"path\"");
                None
            }
        };
        let provider_span = r
            .provider
            .as_ref()
            .map_or(route_span.clone(), Spanned::span);
        let provider = self.provider(r.provider, &at("provider"), route_span.clone());

        let (secrets, secrets_written) = match r.secrets {
            Some(list) => {
                let span = list.span();
                let basic = provider
                    .as_deref()
                    .is_some_and(providers::takes_user_password);
                let (entries, written) = self.secret_entries(list, &at("secrets"), true, basic);
                if written == 0 {
                    self.diag
                        .error(span, at("secrets"), "empty: list at least one secret");
                }
                (entries, Some(written))
            }
            None => (Vec::new(), None),
        };
        let (public_keys, keys_written) = self.public_keys(i, r.public_key, r.public_keys);
        // An Event Grid route with an Entra `tenant` has no secret either.
        let fetches = provider.as_deref().is_some_and(providers::fetches_keys)
            || r.tenant.is_some()
            || r.audience.is_some();
        if secrets_written.is_none() && keys_written == 0 && !fetches {
            self.diag.error(
                route_span.clone(),
                &name,
                "no secrets: a route that verifies nothing cannot be configured; \
                 set secrets (or public_key for asymmetric providers)",
            );
        }

        let is_hmac = provider.as_deref() == Some("hmac");
        let hmac = match (r.hmac, is_hmac) {
            (Some(h), true) => self.hmac(h, &at("hmac")),
            (Some(h), false) => {
                if let Some(p) = &provider {
                    self.diag.error(
                        h.span(),
                        at("hmac"),
                        format!("[route.hmac] only applies to provider = \"hmac\", not {p:?}"),
                    );
                }
                None
            }
            (None, true) => {
                self.diag.error(
                    provider_span.clone(),
                    at("hmac"),
                    "provider \"hmac\" needs a [route.hmac] table saying how requests are signed \
                     (at least header = \"...\")",
                );
                None
            }
            (None, false) => None,
        };

        let upstream_path_override = r.upstream.is_some();
        let upstream = match (r.upstream, default_upstream) {
            (Some(u), default) => {
                self.route_upstream_url(u, &at("upstream"))
                    .map(|url| UpstreamConfig {
                        url,
                        timeout: default.map_or(Duration::from_secs(30), |d| d.timeout),
                        ca: default.and_then(|d| d.ca.clone()),
                        ca_digest: default.and_then(|d| d.ca_digest),
                    })
            }
            (None, default) => default.cloned(),
        };
        // On a scheme that signs no timestamp, the builder refuses it.
        let tolerance = r
            .tolerance
            .map(|t| self.duration(Some(t), &at("tolerance"), Duration::ZERO, false));
        let max_body = self.size(r.max_body, &at("max_body"), server.max_body);
        let (allow_ips, ip_presets) =
            self.allow_ips(r.allow_ips, &at("allow_ips"), &server.ip_presets);
        let rate_limit = r
            .rate_limit
            .and_then(|rl| self.rate_limit(rl, &at("rate_limit")));
        let methods = r.methods.and_then(|m| self.methods(m, &at("methods")));
        let delivery = self.choice(
            r.delivery,
            &at("delivery"),
            &[("forward", Delivery::Forward), ("queue", Delivery::Queue)],
            Delivery::Forward,
        );
        if delivery == Delivery::Forward {
            self.queue_only(r.retry.as_ref().map(Spanned::span), &at("retry"));
            self.queue_only(r.ordered.as_ref().map(Spanned::span), &at("ordered"));
        }
        let retry = self.retry(r.retry, &at("retry"));
        let ordered = r.ordered.is_some_and(|o| *o.get_ref());
        let public_url_span = r.public_url.as_ref().map(Spanned::span);
        let public_url = r
            .public_url
            .and_then(|u| self.public_url(u, &at("public_url")));
        let verify_token_span = r.verify_token.as_ref().map(Spanned::span);
        let verify_token = r
            .verify_token
            .and_then(|t| self.secret_ref(t, &at("verify_token"), true));
        if let (Some(span), Some(methods)) = (verify_token_span.clone(), &methods) {
            if !methods.contains(&Method::GET) {
                self.diag.error(
                    span,
                    at("verify_token"),
                    "is only read by the GET subscription check, and methods does not \
                     include GET: add \"GET\" to methods, or remove verify_token",
                );
            }
        }

        let token_header = r
            .token_header
            .and_then(|h| self.header_name(h, &at("token_header")));
        let forward_token = r.forward_token;
        let raw_fetch = RawFetch {
            keys: r.keys,
            topics: r.topics,
            sns_confirm: r.sns_confirm,
            webhook_id: r.webhook_id,
            audience: r.audience,
            service_account: r.service_account,
            app_id: r.app_id,
            tenant: r.tenant,
        };
        let (mut fetch, key_trust) = self.fetch_params(raw_fetch, &at);
        if let Some(f) = fetch.as_mut() {
            f.public_url.clone_from(&public_url);
        }
        let receipt = self.route_receipt(r.receipt, &at("receipt"));
        let token_query = r
            .token_query
            .and_then(|q| self.query_name(q, &at("token_query")));
        let cloudevents_handshake = r.cloudevents_handshake.map(|c| (c.span(), *c.get_ref()));
        if let (Some((span, true)), Some(methods)) = (&cloudevents_handshake, &methods) {
            if !methods.contains(&Method::OPTIONS) {
                self.diag.error(
                    span.clone(),
                    at("cloudevents_handshake"),
                    "is answered to an OPTIONS request, and methods does not include OPTIONS: \
                     add \"OPTIONS\" to methods, or remove cloudevents_handshake",
                );
            }
        }
        let cloudevents_handshake = matches!(cloudevents_handshake, Some((_, true)));

        if self.diag.error_count() != errors_before {
            return None;
        }
        let (path, provider, upstream) = (path?, provider?, upstream?);
        let params = ProviderParams {
            secrets: &secrets,
            public_keys: &public_keys,
            tolerance,
            hmac: hmac.as_ref(),
            verify_token: verify_token.as_ref(),
            token_header: token_header.as_deref(),
            fetch: fetch.as_ref(),
            token_query: token_query.as_deref(),
        };
        let verifier = match (self.build)(&provider, params) {
            Ok(v) => v,
            Err(e) => {
                let field = if e.field.is_empty() {
                    name.clone()
                } else {
                    at(&e.field)
                };
                let span = self.build_error_span(&field, provider_span);
                self.diag.error(span, field, e.message);
                return None;
            }
        };
        if let (Some(span), false) = (public_url_span, verifier.uses_public_url()) {
            self.diag.error(
                span,
                at("public_url"),
                format!(
                    "provider {provider:?} does not sign the URL, so public_url would change \
                     nothing; remove it"
                ),
            );
            return None;
        }
        let credential_query = match (&forward_token, verifier.credential_query()) {
            (Some(f), Some(_)) if *f.get_ref() => None,
            (_, query) => query.map(str::to_owned),
        };
        let credential_header = match (forward_token, verifier.credential_header()) {
            (Some(_), None) if verifier.credential_query().is_some() => None,
            (Some(f), None) => {
                self.diag.error(
                    f.span(),
                    at("forward_token"),
                    format!(
                        "provider {provider:?} signs its requests and sends no shared \
                         credential, so there is no token to forward or drop; remove \
                         forward_token"
                    ),
                );
                return None;
            }
            (Some(f), Some(_)) if *f.get_ref() => None,
            (_, header) => header.cloned(),
        };
        if let Some(warning) = verifier.public_url_warning(public_url.as_deref()) {
            self.diag.warn(&at("public_url"), warning);
        }
        let methods = methods.unwrap_or_else(|| {
            let mut m = vec![Method::POST];
            if cloudevents_handshake {
                m.push(Method::OPTIONS);
            }
            for extra in verifier.extra_methods() {
                if !m.contains(extra) {
                    m.push(extra.clone());
                }
            }
            m
        });
        Some(Route {
            path,
            provider,
            secrets,
            public_keys,
            verifier,
            upstream,
            upstream_path_override,
            tolerance,
            max_body,
            allow_ips,
            ip_presets,
            rate_limit,
            methods,
            delivery,
            retry,
            ordered,
            public_url,
            hmac,
            token_header,
            credential_header,
            key_trust: key_trust.filter(|_| fetches || fetch.is_some()),
            fetch,
            receipt,
            token_query,
            credential_query,
            cloudevents_handshake,
        })
    }

    /// `receipt`: whether `[receipt]` signs this route's requests (default
    /// true). Refused without a `[receipt]` table, where it would mean
    /// nothing.
    fn route_receipt(&mut self, raw: Option<Spanned<bool>>, field: &str) -> bool {
        let Some(raw) = raw else { return true };
        if !self.receipt_configured {
            self.diag.error(
                raw.span(),
                field,
                "there is no [receipt] table, so no receipt to turn on or off; add [receipt] \
                 (see docs/configuration.md) or remove this key",
            );
        }
        *raw.get_ref()
    }

    /// Where to report a provider's `BuildError`: the field it names if the
    /// file has it, else the route key it is under, else the provider.
    fn build_error_span(&self, field: &str, provider_span: Range<usize>) -> Range<usize> {
        // `route[i].secrets[1]` → `route[i].secrets`
        let top_level = field
            .match_indices(['.', '['])
            .nth(2)
            .map_or(field, |(end, _)| &field[..end]);
        self.tree
            .span_of(field)
            .or_else(|| self.tree.span_of(top_level))
            .unwrap_or(provider_span)
    }

    fn route_path(
        &mut self,
        raw: Spanned<String>,
        field: &str,
        i: usize,
        seen: &mut HashMap<String, usize>,
    ) -> Option<String> {
        let path = raw.get_ref();
        let problem = if !path.starts_with('/') {
            Some(format!("must start with \"/\", got {path:?}"))
        } else if path.contains(['?', '#']) {
            Some(format!(
                "{path:?} has a query or fragment; routes match the path exactly"
            ))
        } else if path.parse::<http::uri::PathAndQuery>().is_err()
            || path.contains(char::is_whitespace)
        {
            Some(format!("{path:?} is not a valid URL path"))
        } else {
            seen.get(path)
                .map(|first| format!("duplicate path {path:?} (already used by route[{first}])"))
        };
        if let Some(problem) = problem {
            self.diag.error(raw.span(), field, problem);
            return None;
        }
        seen.insert(path.clone(), i);
        Some(raw.into_inner())
    }

    fn provider(&mut self, raw: Str, field: &str, route_span: Range<usize>) -> Option<String> {
        let names = providers::names();
        let Some(raw) = raw else {
            self.diag.error(
                route_span,
                field.trim_end_matches(".provider"),
                "missing key \"provider\" (`hookguard providers` lists them)",
            );
            return None;
        };
        if names.contains(&raw.get_ref().as_str()) {
            return Some(raw.into_inner());
        }
        let message = match suggest::closest(raw.get_ref(), &names) {
            Some(near) => format!("unknown provider {:?} (did you mean {near:?}?)", raw.get_ref()),
            None => format!(
                "unknown provider {:?}; `hookguard providers` lists them (use \"hmac\" for a custom HMAC scheme)",
                raw.get_ref()
            ),
        };
        self.diag.error(raw.span(), field, message);
        None
    }

    /// `public_key` (one) or `public_keys` (a list), never both. Public keys are
    /// not secret, so literals draw no warning.
    fn public_keys(
        &mut self,
        i: usize,
        one: Option<Spanned<RawSecret>>,
        many: Option<Spanned<SecretList>>,
    ) -> (Vec<SecretEntry>, usize) {
        match (one, many) {
            (Some(_), Some(many)) => {
                self.diag.error(
                    many.span(),
                    format!("route[{i}].public_keys"),
                    "set either public_key or public_keys, not both",
                );
                (Vec::new(), 1)
            }
            (Some(one), None) => {
                let span = one.span();
                let field = format!("route[{i}].public_key");
                let entry = self.secret_entry(span, one.into_inner(), &field, false, false);
                (entry.into_iter().collect(), 1)
            }
            (None, Some(many)) => {
                let span = many.span();
                let field = format!("route[{i}].public_keys");
                let (entries, written) = self.secret_entries(many, &field, false, false);
                if written == 0 {
                    self.diag
                        .error(span, field, "empty: list at least one public key");
                    return (entries, 1);
                }
                (entries, written)
            }
            (None, None) => (Vec::new(), 0),
        }
    }

    fn rate_limit(&mut self, raw: Spanned<RawRateLimit>, field: &str) -> Option<RateLimit> {
        let span = raw.span();
        let raw = raw.into_inner();
        let Some(per_second) = raw.per_second else {
            self.diag
                .error(span, format!("{field}.per_second"), "missing");
            return None;
        };
        let per_second: u32 = self.count(per_second, &format!("{field}.per_second"), 1)?;
        let burst = match raw.burst {
            Some(b) => self.count(b, &format!("{field}.burst"), 1)?,
            None => per_second,
        };
        Some(RateLimit { per_second, burst })
    }

    fn methods(&mut self, raw: Spanned<Vec<Spanned<String>>>, field: &str) -> Option<Vec<Method>> {
        let span = raw.span();
        let list = raw.into_inner();
        if list.is_empty() {
            self.diag
                .error(span, field, "empty: the route would accept no request");
            return None;
        }
        let mut methods = Vec::new();
        for (j, m) in list.into_iter().enumerate() {
            let upper = m.get_ref().to_ascii_uppercase();
            match Method::from_bytes(upper.as_bytes()) {
                Ok(method) if !methods.contains(&method) => methods.push(method),
                Ok(_) => {}
                Err(_) => self.diag.error(
                    m.span(),
                    format!("{field}[{j}]"),
                    format!("invalid HTTP method {:?}", m.get_ref()),
                ),
            }
        }
        Some(methods)
    }

    fn retry(&mut self, raw: Option<Spanned<RawRetry>>, field: &str) -> RetryPolicy {
        let default = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
            max_attempts: 12,
            max_age: Duration::from_secs(3 * 86_400),
        };
        let Some(raw) = raw else { return default };
        let raw = raw.into_inner();
        let cap_span = raw.cap.as_ref().map(Spanned::span);
        let base = self.duration(raw.base, &format!("{field}.base"), default.base, false);
        let cap = self.duration(raw.cap, &format!("{field}.cap"), default.cap, false);
        if cap < base {
            let span = cap_span.unwrap_or(0..0);
            self.diag
                .error(span, format!("{field}.cap"), "must be at least retry.base");
        }
        let max_attempts = raw
            .max_attempts
            .and_then(|n| self.count(n, &format!("{field}.max_attempts"), 1))
            .unwrap_or(default.max_attempts);
        let max_age = self.duration(
            raw.max_age,
            &format!("{field}.max_age"),
            default.max_age,
            false,
        );
        RetryPolicy {
            base,
            cap,
            max_attempts,
            max_age,
        }
    }

    fn hmac(&mut self, raw: Spanned<RawHmac>, field: &str) -> Option<GenericHmac> {
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
                    .filter(|p| matches!(**p, "body" | "body_sha256_hex"))
                    .count();
                if covers_body == 0 {
                    problems.push(
                        "must include {body} (or {body_sha256_hex}); otherwise the body is not \
                         authenticated"
                            .to_owned(),
                    );
                } else if covers_body > 1 {
                    problems.push(
                        "must include {body} or {body_sha256_hex} exactly once, not both or twice"
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

    /// A valid header name, lower-cased.
    /// A query parameter name: non-empty printable ASCII without the
    /// characters that delimit a query (`&`, `=`, `#`) or need encoding.
    fn query_name(&mut self, raw: Spanned<String>, field: &str) -> Option<String> {
        let name = raw.get_ref();
        let usable = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"&=#%+?".contains(&b));
        if usable {
            return Some(name.clone());
        }
        self.diag.error(
            raw.span(),
            field,
            format!("invalid query parameter name {name:?}"),
        );
        None
    }

    fn header_name(&mut self, raw: Spanned<String>, field: &str) -> Option<String> {
        match HeaderName::from_bytes(raw.get_ref().as_bytes()) {
            Ok(name) => Some(name.as_str().to_owned()),
            Err(_) => {
                self.diag.error(
                    raw.span(),
                    field,
                    format!("invalid header name {:?}", raw.get_ref()),
                );
                None
            }
        }
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
                     {{body_sha256_hex}}, {{secret}}",
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
    let body = template
        .find("{body}")
        .or_else(|| template.find("{body_sha256_hex}"))?;
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
        for digit in ["{timestamp}1{body}", "{body}.2{timestamp}"] {
            let why = ambiguity(digit, false).unwrap_or_default();
            assert!(why.contains("is the digit"), "{digit}: {why}");
        }
    }
}
