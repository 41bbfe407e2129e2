//! Settings that would change nothing are refused, never ignored: a
//! configuration must not claim behaviour that does not run. Here: options
//! that take effect only together with another setting (`retry` on a route
//! that forwards at once, a Redis option on the memory store, a CA no
//! `https://` upstream uses, a spool no route queues to) and URL parts that
//! would be dropped. Checks that need a route's built verifier (`public_url`
//! on a scheme that signs no URL) are in `route.rs`; those of a provider's
//! own parameters (`tolerance`, `verify_token`) in `providers::build`.

use std::ops::Range;

use http::Uri;

use super::spanned::Spanned;
use super::validate::{has_userinfo, Ctx};
use super::{Delivery, ReplayConfig, ReplayStoreKind, Route, UpstreamConfig};

// === Options that apply only with another setting ===

impl Ctx<'_> {
    /// `retry` or `ordered` on a route that forwards at once.
    pub(crate) fn queue_only(&mut self, span: Option<Range<usize>>, field: &str) {
        if let Some(span) = span {
            self.diag.error(
                span,
                field,
                "only applies to delivery = \"queue\", and this route forwards at once: \
                 set delivery = \"queue\", or remove it",
            );
        }
    }

    /// The checks across sections. Those that look at the routes wait until
    /// every route is valid: an invalid one is missing from `routes`, which
    /// would make its options look unused.
    pub(crate) fn refuse_unused(
        &mut self,
        upstream: &UpstreamConfig,
        replay: &ReplayConfig,
        routes: &[Route],
    ) {
        self.store_options(replay);
        if self.diag.has_errors() {
            return;
        }
        self.unused_ca(upstream, routes);
        self.unused_spool(routes);
    }

    /// `max_entries` bounds the memory store only; `on_store_error` decides
    /// what happens when Redis does not answer, which the memory store
    /// never fails to do.
    fn store_options(&mut self, replay: &ReplayConfig) {
        let (field, why) = match replay.store {
            ReplayStoreKind::Redis(_) => (
                "replay.max_entries",
                "bounds the memory store only; Redis keeps every key for ttl (bound its \
                 memory with Redis's own maxmemory): remove max_entries",
            ),
            ReplayStoreKind::Memory => (
                "replay.on_store_error",
                "only applies to a Redis store (what to do when it does not answer); the \
                 memory store always answers: remove on_store_error, or set store to a \
                 redis:// URL",
            ),
        };
        if let Some(span) = self.tree.span_of(field) {
            self.diag.error(span, field, why);
        }
    }

    /// `[upstream] ca` when neither `[upstream] url` nor any route's
    /// `upstream` is `https://`.
    fn unused_ca(&mut self, upstream: &UpstreamConfig, routes: &[Route]) {
        let Some(span) = self.tree.span_of("upstream.ca") else {
            return;
        };
        let https = |url: &Uri| url.scheme_str() == Some("https");
        if !https(&upstream.url) && !routes.iter().any(|r| https(&r.upstream.url)) {
            self.diag.error(
                span,
                "upstream.ca",
                "only applies to https:// upstreams, and every upstream is http://: remove \
                 ca, or use https://",
            );
        }
    }

    /// A `[spool]` table when no route has `delivery = "queue"`: the spool
    /// is not opened.
    fn unused_spool(&mut self, routes: &[Route]) {
        let Some(span) = self.tree.span_of("spool") else {
            return;
        };
        if !routes.iter().any(|r| r.delivery == Delivery::Queue) {
            self.diag.error(
                span,
                "spool",
                "only applies to routes with delivery = \"queue\", and there is none: the \
                 spool would not be opened; remove [spool], or set delivery = \"queue\" on a \
                 route",
            );
        }
    }
}

// === URL parts that would be dropped ===

impl Ctx<'_> {
    /// `[upstream] url`: scheme, host and port only. Each request keeps its
    /// own path and query, so a path here would be dropped; a route's
    /// `upstream` is the way to send a route to another path.
    pub(crate) fn default_upstream_url(&mut self, raw: Spanned<String>) -> Option<Uri> {
        let field = "upstream.url";
        let span = raw.span();
        let url = self.route_upstream_url(raw, field)?;
        if url.path() != "/" {
            self.diag.error(
                span,
                field,
                format!(
                    "has the path {:?}, which would not be used: each request keeps its own \
                     path; to send a route to another path, set that route's upstream (its \
                     path replaces the request's)",
                    url.path()
                ),
            );
            return None;
        }
        Some(url)
    }

    /// A route's `upstream` (and the default one): no query or fragment,
    /// which the forwarded request would not carry (it keeps its own
    /// query). The message never repeats them: a query may hold a token.
    pub(crate) fn route_upstream_url(&mut self, raw: Spanned<String>, field: &str) -> Option<Uri> {
        let span = raw.span();
        let text = raw.get_ref();
        let dropped = if text.contains('#') {
            Some("a fragment (#...)")
        } else if text.contains('?') {
            Some("a query (?...)")
        } else {
            None
        };
        let url = self.upstream_url(raw, field)?;
        if let Some(part) = dropped {
            self.diag.error(
                span,
                field,
                format!(
                    "has {part}, which would not be sent: the forwarded request carries its \
                     own query; remove it"
                ),
            );
            return None;
        }
        Some(url)
    }

    /// `public_url`: an absolute URL without user, password or fragment.
    /// A provider signs the URL it calls, which carries none of them; the
    /// message never repeats a URL with credentials.
    pub(crate) fn public_url(&mut self, raw: Spanned<String>, field: &str) -> Option<String> {
        let text = raw.get_ref();
        let problem = if has_userinfo(text) {
            Some(
                "a user name or password in the URL is not supported: a provider signs the \
                 URL it calls without them; remove them",
            )
        } else if text.contains('#') {
            Some("must not contain a fragment (#...): a provider never sends one")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.diag.error(raw.span(), field, problem);
            return None;
        }
        let text = text.clone();
        self.url(raw, field).map(|_| text)
    }
}
