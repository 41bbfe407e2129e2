//! `GET /status`: what the status page needs that the other endpoints do not
//! say: the routes as configured, readiness, the replay store and its state,
//! the spool's depth, the certificate's expiry, and configuration reloads.
//!
//! Names and states only: a route's path and provider, a store's kind, never
//! a secret, a Redis URL, a certificate's contents or a reload's error text
//! (a configuration error may quote the line that held a literal secret).

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use crate::clock::{rfc3339, unix_millis};
use crate::config::{Delivery, OnStoreError, ReplayStoreKind};
use crate::proxy::App;

use super::AdminState;

/// The `/status` document.
pub fn status(state: &AdminState, app: &App) -> Value {
    let now_ms = unix_millis();
    let now = now_ms.div_euclid(1000);
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started": rfc3339(state.started_ms.div_euclid(1000)),
        "uptime_s": (now_ms - state.started_ms).max(0) / 1000,
        "ready": state.ready.load(Ordering::Acquire),
        "in_flight": app.metrics().in_flight_now(),
        "routes": routes(app),
        "replay": replay(app),
        "spool": app.spool().map(|spool| super::spool_stats(spool)),
        "tls": state.certs.as_ref().map(|certs| certificate(certs.not_after(), now)),
        "reloads": reloads(app),
        "recent_capacity": app.metrics().recent().capacity(),
    })
}

/// Each configured route: path, provider and delivery mode.
fn routes(app: &App) -> Vec<Value> {
    app.config()
        .routes
        .iter()
        .map(|r| {
            json!({
                "path": r.path,
                "provider": r.provider,
                "delivery": match r.delivery {
                    Delivery::Forward => "forward",
                    Delivery::Queue => "queue",
                },
            })
        })
        .collect()
}

/// The replay store's kind and state; never its URL (it may hold a password).
fn replay(app: &App) -> Value {
    let config = &app.config().replay;
    let store = match config.store {
        ReplayStoreKind::Memory => "memory",
        ReplayStoreKind::Redis(_) => "redis",
    };
    let on_store_error = match config.on_store_error {
        OnStoreError::Reject => "reject",
        OnStoreError::Allow => "allow",
    };
    let memory = matches!(config.store, ReplayStoreKind::Memory);
    json!({
        "store": store,
        "healthy": app.replay().healthy(),
        "entries": memory.then(|| app.replay().len()),
        "on_store_error": on_store_error,
        "forwarded_without_dedup": app.replay().store_errors_allowed(),
    })
}

/// The served certificate's expiry (`null` fields when it cannot be read).
fn certificate(not_after: Option<i64>, now: i64) -> Value {
    json!({
        "not_after": not_after.and_then(rfc3339),
        "expires_in_s": not_after.map(|t| t - now),
    })
}

/// Reload attempts by result, and the last one (when and whether applied).
fn reloads(app: &App) -> Value {
    let reloads = app.metrics().reloads();
    json!({
        "success": reloads.success,
        "failure": reloads.failure,
        "last": reloads.last.map(|last| json!({
            "at": rfc3339(last.at),
            "result": if last.success { "success" } else { "failure" },
        })),
    })
}
