//! `[server] max_buffered` and `max_buffered_per_connection` checked
//! against the routes: the largest body a route accepts must fit in both.

use super::units::format_size;
use super::validate::Ctx;
use super::{Route, ServerConfig};

/// A few requests' worth of the default `max_body` (1 MiB).
pub(crate) const DEFAULT_PER_CONNECTION: u64 = 4 << 20;

impl Ctx<'_> {
    /// Checks the buffered-body budgets against the largest route
    /// `max_body`: a body that large must fit in both, or it could never be
    /// accepted. Run last, when every route is valid (so `routes[i]` is the
    /// file's `route[i]`).
    pub(crate) fn buffer_budgets(&mut self, server: &mut ServerConfig, routes: &[Route]) {
        let largest = routes.iter().enumerate().max_by_key(|(_, r)| r.max_body);
        let (Some((index, route)), false) = (largest, self.diag.has_errors()) else {
            return;
        };
        let body_field = [format!("route[{index}].max_body"), "server.max_body".into()]
            .into_iter()
            .find(|field| self.tree.span_of(field).is_some());
        let body_source = body_field
            .as_deref()
            .unwrap_or("the default server.max_body");
        let budgets = [
            ("server.max_buffered", &mut server.max_buffered),
            (
                "server.max_buffered_per_connection",
                &mut server.max_buffered_per_connection,
            ),
        ];
        for (field, budget) in budgets {
            let set = self.tree.span_of(field);
            if *budget >= route.max_body {
                continue;
            }
            if set.is_none() && field == "server.max_buffered_per_connection" {
                *budget = route.max_body;
                continue;
            }
            let value = match set {
                Some(_) => format_size(*budget),
                None => format!("the default ({})", format_size(*budget)),
            };
            let span = set
                .or_else(|| body_field.as_deref().and_then(|f| self.tree.span_of(f)))
                .unwrap_or(0..0);
            self.diag.error(
                span,
                field,
                format!(
                    "{value} is less than {body_source} ({}): a body that large could never \
                     be held; set {field} to at least that",
                    format_size(route.max_body)
                ),
            );
        }
    }
}
