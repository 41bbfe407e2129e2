//! One case per documented key (see `main.rs` for the table's shape and
//! `probes.rs` for what each probe observes). `{upstream}`, `{dir}`, `{gh}`
//! (the GitHub route's secret), `{closed}` (a port nothing listens on),
//! `{tls}` (a TLS upstream's port) and `{discord_pk}`/`{other_pk}` are
//! filled in per run.

use crate::limits::*;
use crate::probes::*;
use crate::{Case, Probe};

macro_rules! live {
    ($probe:path) => {
        Probe::Live(|c| Box::pin($probe(c)))
    };
}

macro_rules! binary {
    ($probe:path) => {
        Probe::Binary(|c| Box::pin($probe(c)))
    };
}

/// Queue delivery on the GitHub route, its spool in the case's directory.
macro_rules! queued {
    ($($edit:expr),* $(,)?) => {
        &[
            ("route", "delivery = \"queue\""),
            ("spool", "dir = \"{dir}/spool\""),
            $($edit),*
        ]
    };
}

/// Auto-block after failed verifications.
const BLOCKING: (&str, &str) = ("security", "auto_block = \"1m\"");

/// Discord on the first route, which holds public keys instead of secrets.
macro_rules! discord {
    ($keys:expr) => {
        &[
            ("route", "provider = \"discord\""),
            ("route", "-secrets"),
            ("route", $keys),
        ]
    };
}

/// An `aws-sns` route at `/sns` (route[2]), with `edits`.
macro_rules! sns {
    ($($edit:expr),* $(,)?) => {
        &[
            ("sns", "path = \"/sns\""),
            ("sns", "provider = \"aws-sns\""),
            $($edit),*
        ]
    };
}

/// The SNS route with its topic listed.
const TOPIC: (&str, &str) = (
    "sns",
    "topics = [\"arn:aws:sns:us-east-1:123456789012:orders\"]",
);

/// The generic route signing `{timestamp}.{body}` with `X-Ts`.
macro_rules! timestamped {
    ($($edit:expr),* $(,)?) => {
        &[
            ("hmac", "timestamp_header = \"X-Ts\""),
            ("hmac", "signed = \"{timestamp}.{body}\""),
            $($edit),*
        ]
    };
}

pub static CASES: &[Case] = &[
    // --- [server] ---
    Case {
        key: "server.listen",
        set: &[("server", "listen = \"127.0.0.2:0\"")],
        other: &[],
        probe: live!(bound_ip),
        expect: ["bound to 127.0.0.2", "bound to 127.0.0.1"],
    },
    Case {
        key: "server.tls",
        set: &[(
            "server",
            "tls = { cert = \"{dir}/cert.pem\", key = \"{dir}/key.pem\" }",
        )],
        other: &[],
        probe: live!(tls_handshake),
        expect: ["serves TLS", "no TLS"],
    },
    Case {
        key: "server.max_body",
        set: &[("server", "max_body = \"10B\"")],
        other: &[],
        probe: live!(deliver_20_bytes),
        expect: ["413 body_too_large", "200"],
    },
    Case {
        key: "server.trusted_proxies",
        set: &[("server", "trusted_proxies = [\"127.0.0.1\"]")],
        other: &[],
        probe: live!(forwarded_for),
        expect: [
            "X-Forwarded-For: 203.0.113.9, 127.0.0.1",
            "X-Forwarded-For: 127.0.0.1",
        ],
    },
    Case {
        key: "server.request_timeout",
        set: &[("server", "request_timeout = \"200ms\"")],
        other: &[],
        probe: live!(slow_body),
        expect: ["cut off", "still waiting"],
    },
    Case {
        key: "server.shutdown_grace",
        set: &[("server", "shutdown_grace = \"0s\"")],
        other: &[],
        probe: live!(shutdown_with_a_request_in_flight),
        expect: ["cut off", "drained"],
    },
    Case {
        key: "server.max_connections",
        set: &[("server", "max_connections = 1")],
        other: &[],
        probe: live!(second_connection),
        expect: ["not served yet", "HTTP/1.1 404 Not Found"],
    },
    Case {
        key: "server.idle_timeout",
        set: &[("server", "idle_timeout = \"200ms\"")],
        other: &[],
        probe: live!(idle_keep_alive),
        expect: ["closed when idle", "kept open"],
    },
    Case {
        key: "server.max_buffered",
        set: &[
            ("server", "max_body = \"1KiB\""),
            ("server", "max_buffered = \"1KiB\""),
        ],
        other: &[("server", "max_body = \"1KiB\"")],
        probe: live!(delivery_while_a_body_is_held),
        expect: ["503 overloaded", "200"],
    },
    Case {
        key: "server.max_buffered_per_connection",
        set: &[
            ("server", "max_body = \"1KiB\""),
            ("server", "max_buffered_per_connection = \"1KiB\""),
        ],
        other: &[
            ("server", "max_body = \"1KiB\""),
            ("server", "max_buffered_per_connection = \"2KiB\""),
        ],
        probe: live!(second_stream_while_a_body_is_held),
        expect: ["503 overloaded", "never refused"],
    },
    Case {
        key: "server.max_concurrent_streams",
        set: &[("server", "max_concurrent_streams = 2")],
        other: &[],
        probe: live!(advertised_streams),
        expect: ["2 streams", "32 streams"],
    },
    // --- [admin] ---
    Case {
        key: "admin.listen",
        set: &[("admin", "listen = \"127.0.0.2:0\"")],
        other: &[("admin", "listen = \"127.0.0.1:0\"")],
        probe: live!(admin_ip),
        expect: ["admin on 127.0.0.2", "admin on 127.0.0.1"],
    },
    Case {
        key: "admin.token",
        set: &[
            ("admin", "listen = \"127.0.0.1:0\""),
            ("admin", "token = \"admin-token\""),
        ],
        other: &[("admin", "listen = \"127.0.0.1:0\"")],
        probe: live!(admin_health),
        expect: ["healthz 401", "healthz 200"],
    },
    Case {
        key: "admin.recent",
        set: &[
            ("admin", "listen = \"127.0.0.1:0\""),
            ("admin", "recent = 2"),
        ],
        other: &[("admin", "listen = \"127.0.0.1:0\"")],
        probe: live!(recent_after_three),
        expect: ["2 of 3 kept", "3 of 3 kept"],
    },
    Case {
        key: "admin.hosts",
        set: &[
            ("admin", "listen = \"127.0.0.1:0\""),
            ("admin", "hosts = [\"admin.example\"]"),
        ],
        other: &[("admin", "listen = \"127.0.0.1:0\"")],
        probe: live!(admin_health_by_name),
        expect: ["healthz 200", "healthz 403"],
    },
    // --- [upstream] ---
    Case {
        key: "upstream.url",
        set: &[("upstream", "url = \"http://127.0.0.1:{closed}\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["502 upstream_unreachable", "200"],
    },
    Case {
        key: "upstream.timeout",
        set: &[("upstream", "timeout = \"100ms\"")],
        other: &[],
        probe: live!(deliver_to_a_slow_upstream),
        expect: ["504 upstream_timeout", "200"],
    },
    Case {
        key: "upstream.ca",
        set: &[
            ("route", "upstream = \"https://localhost:{tls}/in\""),
            ("upstream", "ca = \"{dir}/ca.pem\""),
        ],
        other: &[("route", "upstream = \"https://localhost:{tls}/in\"")],
        probe: live!(deliver),
        expect: ["200", "502 upstream_unreachable"],
    },
    // --- [replay] ---
    Case {
        key: "replay.store",
        set: &[("replay", "store = \"redis://127.0.0.1:{closed}\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["503 replay_store_unavailable", "200"],
    },
    Case {
        key: "replay.ttl",
        set: &[("replay", "ttl = \"1s\"")],
        other: &[],
        probe: live!(copies_after_a_while),
        expect: ["a copy is forwarded again", "every copy is a duplicate"],
    },
    Case {
        key: "replay.max_entries",
        set: &[("replay", "max_entries = 1")],
        other: &[],
        probe: live!(first_delivery_again_after_others),
        expect: ["A again: 200", "A again: 200 duplicate"],
    },
    Case {
        key: "replay.on_store_error",
        set: &[
            ("replay", "store = \"redis://127.0.0.1:{closed}\""),
            ("replay", "on_store_error = \"allow\""),
        ],
        other: &[("replay", "store = \"redis://127.0.0.1:{closed}\"")],
        probe: live!(deliver),
        expect: ["200", "503 replay_store_unavailable"],
    },
    // --- [log] ---
    Case {
        key: "log.format",
        set: &[("log", "format = \"pretty\"")],
        other: &[],
        probe: binary!(log_lines),
        expect: ["text lines", "JSON lines"],
    },
    Case {
        key: "log.audit",
        set: &[("log", "audit = false")],
        other: &[],
        probe: binary!(audit_lines),
        expect: ["0 audit event(s)", "1 audit event(s)"],
    },
    // --- [security] ---
    Case {
        key: "security.failure_threshold",
        set: &[BLOCKING, ("security", "failure_threshold = 1")],
        other: &[BLOCKING],
        probe: live!(genuine_after_one_failure),
        expect: ["403 ip_not_allowed", "200"],
    },
    Case {
        key: "security.window",
        set: &[
            BLOCKING,
            ("security", "failure_threshold = 2"),
            ("security", "window = \"50ms\""),
        ],
        other: &[BLOCKING, ("security", "failure_threshold = 2")],
        probe: live!(genuine_after_two_spaced_failures),
        expect: ["200", "403 ip_not_allowed"],
    },
    Case {
        key: "security.auto_block",
        set: &[("security", "failure_threshold = 1"), BLOCKING],
        other: &[("security", "failure_threshold = 1")],
        probe: live!(genuine_after_one_failure),
        expect: ["403 ip_not_allowed", "200"],
    },
    Case {
        key: "security.max_tracked_ips",
        set: &[
            ("server", "trusted_proxies = [\"127.0.0.1\"]"),
            ("security", "failure_threshold = 1"),
            BLOCKING,
            ("security", "max_tracked_ips = 1"),
        ],
        other: &[
            ("server", "trusted_proxies = [\"127.0.0.1\"]"),
            ("security", "failure_threshold = 1"),
            BLOCKING,
        ],
        probe: live!(genuine_from_a_after_failures_from_a_and_b),
        expect: ["200", "403 ip_not_allowed"],
    },
    // --- [spool] ---
    Case {
        key: "spool.dir",
        set: queued!(("spool", "dir = \"{dir}/a\"")),
        other: queued!(("spool", "dir = \"{dir}/b\"")),
        probe: live!(spool_location),
        expect: ["spool in a", "spool in b"],
    },
    Case {
        key: "spool.max_size",
        set: queued!(("spool", "max_size = \"10B\"")),
        other: queued!(),
        probe: live!(deliver),
        expect: ["503 spool_unavailable", "202"],
    },
    // --- [[route]] ---
    Case {
        key: "route.path",
        set: &[("route", "path = \"/other\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["404 no_route", "200"],
    },
    Case {
        key: "route.provider",
        set: &[("route", "provider = \"gitlab\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["401 missing_signature", "200"],
    },
    Case {
        key: "route.secrets",
        set: &[("route", "secrets = [\"another-secret\"]")],
        other: &[],
        probe: live!(deliver),
        expect: ["401 invalid_signature", "200"],
    },
    Case {
        key: "route.public_key",
        set: discord!("public_key = \"{discord_pk}\""),
        other: discord!("public_key = \"{other_pk}\""),
        probe: live!(discord_interaction),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.public_keys",
        set: discord!("public_keys = [\"{other_pk}\", \"{discord_pk}\"]"),
        other: discord!("public_keys = [\"{other_pk}\"]"),
        probe: live!(discord_interaction),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.upstream",
        set: &[("route", "upstream = \"{upstream}/elsewhere\"")],
        other: &[],
        probe: live!(upstream_path),
        expect: ["upstream got /elsewhere", "upstream got /hook"],
    },
    Case {
        key: "route.tolerance",
        set: timestamped!(("generic", "tolerance = \"15m\"")),
        other: timestamped!(),
        probe: live!(generic_timestamped_10_minutes_ago),
        expect: ["200", "401 timestamp_out_of_tolerance"],
    },
    Case {
        key: "route.max_body",
        set: &[("route", "max_body = \"10B\"")],
        other: &[],
        probe: live!(deliver_20_bytes),
        expect: ["413 body_too_large", "200"],
    },
    Case {
        key: "route.allow_ips",
        set: &[("route", "allow_ips = [\"10.0.0.0/8\"]")],
        other: &[],
        probe: live!(deliver),
        expect: ["403 ip_not_allowed", "200"],
    },
    Case {
        key: "route.rate_limit",
        set: &[("route", "rate_limit = { per_second = 1 }")],
        other: &[],
        probe: live!(four_deliveries),
        expect: ["some 429 rate_limited", "all 200"],
    },
    Case {
        key: "route.methods",
        set: &[("route", "methods = [\"PUT\"]")],
        other: &[],
        probe: live!(deliver),
        expect: ["405 method_not_allowed", "200"],
    },
    Case {
        key: "route.delivery",
        set: queued!(),
        other: &[],
        probe: live!(deliver),
        expect: ["202", "200"],
    },
    Case {
        key: "route.retry",
        set: queued!(("route", "retry = { max_attempts = 1 }")),
        other: queued!(),
        probe: live!(state_after_a_failed_attempt),
        expect: ["dead", "pending"],
    },
    Case {
        key: "route.ordered",
        set: queued!(("route", "ordered = true")),
        other: queued!(),
        probe: live!(deliveries_at_once),
        expect: ["1 at once", "2 at once"],
    },
    Case {
        key: "route.public_url",
        set: &[
            ("route", "provider = \"twilio\""),
            ("route", "secrets = [\"twilio-token\"]"),
            ("route", "public_url = \"https://hooks.example.com/hook\""),
        ],
        other: &[
            ("route", "provider = \"twilio\""),
            ("route", "secrets = [\"twilio-token\"]"),
        ],
        probe: live!(twilio_for_the_public_url),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.verify_token",
        set: &[
            ("route", "provider = \"meta\""),
            ("route", "verify_token = \"tok\""),
        ],
        other: &[("route", "provider = \"meta\"")],
        probe: live!(meta_subscription),
        expect: ["200 42", "401 invalid_signature"],
    },
    Case {
        key: "route.token_header",
        set: &[
            ("route", "provider = \"token\""),
            ("route", "secrets = [\"tok\"]"),
            ("route", "token_header = \"X-Hook-Token\""),
        ],
        other: &[
            ("route", "provider = \"token\""),
            ("route", "secrets = [\"tok\"]"),
        ],
        probe: live!(token_delivery),
        expect: ["200 token dropped", "error at route[0].token_header"],
    },
    Case {
        key: "route.forward_token",
        set: &[
            ("route", "provider = \"token\""),
            ("route", "secrets = [\"tok\"]"),
            ("route", "token_header = \"X-Hook-Token\""),
            ("route", "forward_token = true"),
        ],
        other: &[
            ("route", "provider = \"token\""),
            ("route", "secrets = [\"tok\"]"),
            ("route", "token_header = \"X-Hook-Token\""),
        ],
        probe: live!(token_delivery),
        expect: ["200 token forwarded", "200 token dropped"],
    },
    Case {
        key: "route.hmac",
        set: &[("route", "[route.hmac]\nheader = \"X-Sig\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].hmac", "200"],
    },
    // --- secret entries ---
    Case {
        key: "secret.value",
        set: &[("route", "secrets = [{ value = \"{gh}\" }]")],
        other: &[("route", "secrets = [{ value = \"another-secret\" }]")],
        probe: live!(deliver),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "secret.expires",
        set: &[(
            "route",
            "secrets = [{ value = \"{gh}\", expires = \"2001-01-01T00:00:00Z\" }]",
        )],
        other: &[("route", "secrets = [{ value = \"{gh}\" }]")],
        probe: live!(deliver),
        expect: ["401 invalid_signature", "200"],
    },
    Case {
        key: "secret.user",
        set: &[
            ("route", "provider = \"postmark\""),
            (
                "route",
                "secrets = [{ user = \"Aladdin\", password = \"open sesame\" }]",
            ),
        ],
        other: &[
            ("route", "provider = \"postmark\""),
            (
                "route",
                "secrets = [{ user = \"Bob\", password = \"open sesame\" }]",
            ),
        ],
        probe: live!(basic_delivery),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "secret.password",
        set: &[
            ("route", "provider = \"postmark\""),
            (
                "route",
                "secrets = [{ user = \"Aladdin\", password = \"open sesame\" }]",
            ),
        ],
        other: &[
            ("route", "provider = \"postmark\""),
            ("route", "secrets = [{ user = \"Aladdin\" }]"),
        ],
        probe: live!(basic_delivery),
        expect: ["200", "error at route[0].secrets[0].password"],
    },
    // --- route.rate_limit ---
    Case {
        key: "route.rate_limit.per_second",
        set: &[("route", "rate_limit = { per_second = 1 }")],
        other: &[("route", "rate_limit = { per_second = 1000 }")],
        probe: live!(four_deliveries),
        expect: ["some 429 rate_limited", "all 200"],
    },
    Case {
        key: "route.rate_limit.burst",
        set: &[("route", "rate_limit = { per_second = 1, burst = 4 }")],
        other: &[("route", "rate_limit = { per_second = 1 }")],
        probe: live!(four_deliveries),
        expect: ["all 200", "some 429 rate_limited"],
    },
    // --- route.retry: backoff ceilings are random below them, so `base`
    // and `cap` show through the rule that binds them ---
    Case {
        key: "route.retry.base",
        set: queued!(("route", "retry = { base = \"1h\" }")),
        other: queued!(("route", "retry = { base = \"1m\" }")),
        probe: live!(deliver),
        expect: ["error at route[0].retry.cap", "202"],
    },
    Case {
        key: "route.retry.cap",
        set: queued!(("route", "retry = { cap = \"1ms\" }")),
        other: queued!(("route", "retry = { cap = \"1h\" }")),
        probe: live!(deliver),
        expect: ["error at route[0].retry.cap", "202"],
    },
    Case {
        key: "route.retry.max_attempts",
        set: queued!(("route", "retry = { max_attempts = 1 }")),
        other: queued!(("route", "retry = { max_attempts = 5 }")),
        probe: live!(state_after_a_failed_attempt),
        expect: ["dead", "pending"],
    },
    Case {
        key: "route.retry.max_age",
        set: queued!(("route", "retry = { max_age = \"1ms\" }")),
        other: queued!(("route", "retry = { max_age = \"1h\" }")),
        probe: live!(state_after_a_failed_attempt),
        expect: ["dead", "pending"],
    },
    // --- [route.hmac], on the generic route at /generic ---
    Case {
        key: "route.hmac.algorithm",
        set: &[("hmac", "algorithm = \"md5\"")],
        other: &[],
        probe: live!(generic_md5_sig),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.hmac.header",
        set: &[("hmac", "header = \"X-Other\"")],
        other: &[],
        probe: live!(generic_hex_sig),
        expect: ["401 missing_signature", "200"],
    },
    Case {
        key: "route.hmac.prefix",
        set: &[("hmac", "prefix = \"sha256=\"")],
        other: &[],
        probe: live!(generic_prefixed_sig),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.hmac.encoding",
        set: &[("hmac", "encoding = \"base64\"")],
        other: &[],
        probe: live!(generic_base64_sig),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.hmac.timestamp_header",
        set: timestamped!(),
        other: &[("hmac", "signed = \"{timestamp}.{body}\"")],
        probe: live!(generic_timestamped_now),
        expect: ["200", "error at route[1].hmac.signed"],
    },
    Case {
        key: "route.hmac.id_header",
        set: &[
            ("hmac", "id_header = \"X-Id\""),
            ("hmac", "signed = \"{id}.{body}\""),
        ],
        other: &[("hmac", "signed = \"{id}.{body}\"")],
        probe: live!(generic_with_an_id),
        expect: ["200, event id evt-1", "error at route[1].hmac.signed"],
    },
    Case {
        key: "route.hmac.signed",
        set: &[("hmac", "signed = \"v0:{body}\"")],
        other: &[],
        probe: live!(generic_v0_sig),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.hmac.key_encoding",
        set: &[
            ("generic", "secrets = [\"c0ffee00\"]"),
            ("hmac", "key_encoding = \"hex\""),
        ],
        other: &[("generic", "secrets = [\"c0ffee00\"]")],
        probe: live!(generic_decoded_key_sig),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.hmac.key_prefix",
        set: &[
            ("generic", "secrets = [\"whsec_c0ffee00\"]"),
            ("hmac", "key_encoding = \"hex\""),
            ("hmac", "key_prefix = \"whsec_\""),
        ],
        other: &[
            ("generic", "secrets = [\"whsec_c0ffee00\"]"),
            ("hmac", "key_encoding = \"hex\""),
        ],
        probe: live!(generic_decoded_key_sig),
        expect: ["200", "error at route[1].secrets[0]"],
    },
    Case {
        key: "server.proxy_protocol",
        set: &[
            ("server", "proxy_protocol = \"v1\""),
            ("server", "trusted_proxies = [\"127.0.0.1\"]"),
        ],
        other: &[("server", "trusted_proxies = [\"127.0.0.1\"]")],
        probe: live!(request_without_proxy_header),
        expect: ["closed unanswered", "answered"],
    },
    Case {
        key: "server.ip_presets",
        set: &[
            ("server", "ip_presets = \"file:{dir}/no-such-presets.toml\""),
            ("route", "allow_ips = [\"preset:github\"]"),
        ],
        other: &[("route", "allow_ips = [\"preset:github\"]")],
        probe: live!(deliver),
        expect: ["error at server.ip_presets", "403 ip_not_allowed"],
    },
    Case {
        key: "route.topics",
        set: sns!(TOPIC),
        other: sns!(),
        probe: live!(deliver),
        expect: ["200", "error at route[2].topics"],
    },
    Case {
        key: "route.sns_confirm",
        set: sns!(TOPIC, ("sns", "sns_confirm = \"auto\"")),
        other: sns!(TOPIC, ("sns", "sns_confirm = \"always\"")),
        probe: live!(deliver),
        expect: ["200", "error at route[2].sns_confirm"],
    },
    Case {
        key: "route.keys.allow",
        set: sns!(TOPIC, ("keys", "allow = [\"https://127.0.0.1:8443/\"]")),
        other: sns!(TOPIC, ("keys", "allow = [\"http://127.0.0.1:8443/\"]")),
        probe: live!(deliver),
        expect: ["200", "error at route[2].keys.allow[0]"],
    },
    Case {
        key: "route.keys.url",
        set: sns!(TOPIC, ("keys", "url = \"https://127.0.0.1:8443/cert.pem\"")),
        other: sns!(TOPIC),
        probe: live!(deliver),
        expect: ["error at route[2].keys.url", "200"],
    },
    Case {
        key: "route.keys.ca",
        set: sns!(TOPIC, ("keys", "ca = \"file:{dir}/cert.pem\"")),
        other: sns!(TOPIC, ("keys", "ca = \"file:{dir}/missing.pem\"")),
        probe: live!(deliver),
        expect: ["200", "error at route[2].keys.ca"],
    },
    Case {
        key: "route.keys",
        set: &[(
            "route",
            "[route.keys]\nallow = [\"https://127.0.0.1:8443/\"]",
        )],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].keys", "200"],
    },
    Case {
        key: "route.webhook_id",
        set: &[("route", "webhook_id = \"1JE4291016473214C\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].webhook_id", "200"],
    },
    // --- [receipt] ---
    Case {
        key: "receipt.secret",
        set: &[(
            "receipt",
            "secret = \"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\"",
        )],
        other: &[],
        probe: live!(receipt_kind),
        expect: ["200, receipt v1", "200, no receipt"],
    },
    Case {
        key: "receipt.ed25519_key",
        set: &[(
            "receipt",
            "ed25519_key = \"whsk_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"",
        )],
        other: &[],
        probe: live!(receipt_kind),
        expect: ["200, receipt v1a", "200, no receipt"],
    },
    Case {
        key: "route.receipt",
        set: &[
            (
                "receipt",
                "secret = \"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\"",
            ),
            ("route", "receipt = false"),
        ],
        other: &[(
            "receipt",
            "secret = \"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\"",
        )],
        probe: live!(receipt_kind),
        expect: ["200, no receipt", "200, receipt v1"],
    },
    Case {
        key: "route.hmac.timestamp_format",
        set: timestamped!(("hmac", "timestamp_format = \"unix_ms\"")),
        other: timestamped!(),
        probe: live!(generic_timestamped_ms_now),
        expect: ["200", "401 timestamp_out_of_tolerance"],
    },
    Case {
        key: "route.hmac.signature_keys",
        set: &[("hmac", "signature_keys = [\"v0\", \"v1\"]")],
        other: &[],
        probe: live!(generic_pairs_sig),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.hmac.timestamp_key",
        set: &[
            ("hmac", "signature_keys = [\"v1\"]"),
            ("hmac", "timestamp_key = \"t\""),
            ("hmac", "signed = \"{timestamp}.{body}\""),
        ],
        other: &[
            ("hmac", "signature_keys = [\"v1\"]"),
            ("hmac", "signed = \"{timestamp}.{body}\""),
        ],
        probe: live!(generic_pairs_timestamped),
        expect: ["200", "error at route[1].hmac.signed"],
    },
    Case {
        key: "route.hmac.pair_separator",
        set: &[
            ("hmac", "signature_keys = [\"v1\"]"),
            ("hmac", "timestamp_key = \"t\""),
            ("hmac", "signed = \"{timestamp}.{body}\""),
            ("hmac", "pair_separator = \";\""),
        ],
        other: &[
            ("hmac", "signature_keys = [\"v1\"]"),
            ("hmac", "timestamp_key = \"t\""),
            ("hmac", "signed = \"{timestamp}.{body}\""),
        ],
        probe: live!(generic_pairs_semicolon),
        expect: ["200", "401 invalid_signature"],
    },
    Case {
        key: "route.token_query",
        set: &[
            ("route", "provider = \"azure-eventgrid\""),
            ("route", "secrets = [\"k3y\"]"),
            ("route", "token_query = \"code\""),
        ],
        other: &[
            ("route", "provider = \"azure-eventgrid\""),
            ("route", "secrets = [\"k3y\"]"),
            ("route", "token_header = \"X-EG-Key\""),
        ],
        probe: live!(eventgrid_query_key),
        expect: ["200 forwarded /hook?a=1", "401 missing_signature"],
    },
    Case {
        key: "route.cloudevents_handshake",
        set: &[("route", "cloudevents_handshake = true")],
        other: &[],
        probe: live!(cloudevents_options),
        expect: ["200 eventgrid.azure.net", "405 method_not_allowed"],
    },
    Case {
        key: "route.audience",
        set: &[("route", "audience = \"https://hooks.example.com/pubsub\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].audience", "200"],
    },
    Case {
        key: "route.service_account",
        set: &[(
            "route",
            "service_account = \"push@p.iam.gserviceaccount.com\"",
        )],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].service_account", "200"],
    },
    Case {
        key: "route.keys.client_id",
        set: sns!(TOPIC, ("keys", "client_id = \"client-1\"")),
        other: sns!(TOPIC),
        probe: live!(deliver),
        expect: ["error at route[2].keys.client_id", "200"],
    },
    Case {
        key: "route.keys.client_secret",
        set: sns!(TOPIC, ("keys", "client_secret = \"s3cret\"")),
        other: sns!(TOPIC),
        probe: live!(deliver),
        expect: ["error at route[2].keys.client_secret", "200"],
    },
    Case {
        key: "route.hmac.mode",
        set: &[
            ("hmac", "mode = \"hash\""),
            ("hmac", "signed = \"{secret}{body}\""),
        ],
        other: &[("hmac", "signed = \"{secret}{body}\"")],
        probe: live!(generic_hash_sig),
        expect: ["200", "error at route[1].hmac.signed"],
    },
    Case {
        key: "route.hmac.headers",
        set: &[
            ("hmac", "-header"),
            ("hmac", "headers = [\"X-Sig\", \"X-Sig2\"]"),
        ],
        other: &[],
        probe: live!(generic_hex_sig_in_x_sig2),
        expect: ["200", "401 missing_signature"],
    },
    Case {
        key: "route.app_id",
        set: &[("route", "app_id = \"8e460676-ae3f-4b1e-8790-ee0fb5d6148f\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].app_id", "200"],
    },
    Case {
        key: "route.tenant",
        set: &[("route", "tenant = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"")],
        other: &[],
        probe: live!(deliver),
        expect: ["error at route[0].tenant", "200"],
    },
];
