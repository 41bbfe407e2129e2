//! `[[route]]` validation: one raw route → one [`Route`] with its verifier.
//!
//! Owns the per-route rules: unique paths, known providers (with a
//! suggestion), at least one secret or public key, `[route.hmac]` exactly
//! when `provider = "hmac"` (its settings: `route_hmac.rs`), per-route
//! overrides, and the default method list.
//! The verifier is built only for a route with no other error, through the
//! builder the caller passed in; a `BuildError` is reported at the field it
//! names. Field paths are `route[i].…` with `i` 0-based in file order.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use super::spanned::Spanned;
use http::{HeaderName, Method};

use super::keys::RawFetch;
use super::raw::{RawRateLimit, RawRetry, RawRoute, RawSecret, SecretList, Str};
use super::suggest;
use super::validate::Ctx;
use super::{Delivery, RateLimit, RetryPolicy, Route, ServerConfig, UpstreamConfig};
use crate::providers::{self, ProviderParams, SecretEntry};

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

    /// A valid header name, lower-cased.
    pub(super) fn header_name(&mut self, raw: Spanned<String>, field: &str) -> Option<String> {
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
