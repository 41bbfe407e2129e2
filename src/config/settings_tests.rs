//! Every setting applies or is refused: TOML spellings of the same data,
//! settings that would change nothing, URL parts that would be dropped, and
//! what `check` loads and shows. (The table test of every documented key,
//! through the real proxy, is `tests/config_keys/`.)

use std::path::Path;

use super::tests::{env, errors, fake, parse, MINIMAL};
use super::*;

/// The real verifiers, for settings only a provider can judge.
fn real(src: &str) -> Result<Config, ConfigErrors> {
    from_str(src, Path::new("t.toml"), &env(&[("S", "secret-value")]))
}

fn real_errors(src: &str) -> String {
    match real(src) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

/// A self-signed certificate and key in `dir` as `cert.pem`, `key.pem`.
fn cert_files(dir: &Path) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
}

#[test]
fn every_toml_spelling_of_the_same_tables_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    cert_files(dir.path());
    let route = "[[route]]\npath = \"/hook\"\nprovider = \"github\"\nsecrets = [\"env:S\"]\n";
    let spellings = [
        // Every table with its own header.
        "[server]\nlisten = \"127.0.0.1:8443\"\n[server.tls]\ncert = \"cert.pem\"\n\
         key = \"key.pem\"\n[admin]\nlisten = \"127.0.0.1:9191\"\n\
         [upstream]\nurl = \"http://127.0.0.1:3000\"\nROUTE[route.rate_limit]\nper_second = 5\n",
        // `[server.tls]` with no `[server]` before it.
        "[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[server]\n\
         listen = \"127.0.0.1:8443\"\n[admin]\nlisten = \"127.0.0.1:9191\"\n\
         [upstream]\nurl = \"http://127.0.0.1:3000\"\nROUTErate_limit.per_second = 5\n",
        // Dotted keys at the top and inside tables.
        "server.listen = \"127.0.0.1:8443\"\nserver.tls.cert = \"cert.pem\"\n\
         server.tls.key = \"key.pem\"\nadmin.listen = \"127.0.0.1:9191\"\n\
         upstream.url = \"http://127.0.0.1:3000\"\n\
         ROUTErate_limit = { per_second = 5 }\n",
        "[server]\nlisten = \"127.0.0.1:8443\"\ntls.cert = \"cert.pem\"\ntls.key = \"key.pem\"\n\
         [admin]\nlisten = \"127.0.0.1:9191\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
         ROUTErate_limit.per_second = 5\n",
    ];
    let mut rendered = Vec::new();
    for spelling in spellings {
        let src = spelling.replace("ROUTE", route);
        let cfg = from_str_with(
            &src,
            &dir.path().join("app.toml"),
            &env(&[("S", "x")]),
            &fake,
        )
        .unwrap_or_else(|e| panic!("{e}\n{src}"));
        assert_eq!(cfg.server.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(
            cfg.server.tls.as_ref().unwrap().key,
            dir.path().join("key.pem")
        );
        assert_eq!(cfg.admin.unwrap().listen, "127.0.0.1:9191".parse().unwrap());
        let limit = cfg.routes[0].rate_limit.unwrap();
        assert_eq!((limit.per_second, limit.burst), (5, 5));
        rendered.push(cfg.upstream.url.to_string());
    }
    assert!(rendered.iter().all(|u| u == "http://127.0.0.1:3000/"));
}

#[test]
fn errors_inside_implicit_tables_are_located_at_their_first_key() {
    let src = format!("{MINIMAL}rate_limit.burst = 3\n");
    assert_eq!(
        errors(&src),
        "t.toml:9:12: route[0].rate_limit.per_second: missing"
    );
    let src = "upstream.timeout = \"3s\"\n";
    assert!(
        errors(src).starts_with("t.toml:1:10: upstream.url: missing"),
        "{}",
        errors(src)
    );
    let src = format!("{MINIMAL}[server.tls]\ncert = \"x.pem\"\n");
    assert_eq!(
        errors(&src).lines().last().unwrap(),
        "t.toml:9:1: server.tls.key: missing"
    );
    let src = format!("server.lisen = \"x\"\n{MINIMAL}");
    assert_eq!(
        errors(&src),
        "t.toml:1:8: server.lisen: unknown key \"lisen\" (did you mean \"listen\"?)"
    );
}

#[test]
fn options_of_queue_mode_on_a_forward_route_are_refused() {
    for (option, col) in [("retry = { max_attempts = 3 }", 9), ("ordered = false", 11)] {
        let key = option.split(' ').next().unwrap();
        assert_eq!(
            errors(&format!("{MINIMAL}{option}\n")),
            format!(
                "t.toml:9:{col}: route[0].{key}: only applies to delivery = \"queue\", and \
                 this route forwards at once: set delivery = \"queue\", or remove it"
            )
        );
        let queued = format!("[spool]\ndir = \"s\"\n{MINIMAL}delivery = \"queue\"\n{option}\n");
        assert!(parse(&queued).is_ok());
    }
}

#[test]
fn a_spool_without_a_queue_route_is_refused() {
    let src = format!("[spool]\ndir = \"spool\"\n{MINIMAL}");
    assert_eq!(
        errors(&src),
        "t.toml:1:1: spool: only applies to routes with delivery = \"queue\", and there \
         is none: the spool would not be opened; remove [spool], or set delivery = \"queue\" \
         on a route"
    );
}

#[test]
fn replay_options_of_the_other_store_are_refused() {
    let redis = format!("[replay]\nstore = \"redis://127.0.0.1:6379\"\nmax_entries = 5\n{MINIMAL}");
    assert!(
        errors(&redis).starts_with(
            "t.toml:3:15: replay.max_entries: bounds the memory store only; Redis keeps"
        ),
        "{}",
        errors(&redis)
    );
    let allow = format!("[replay]\non_store_error = \"allow\"\n{MINIMAL}");
    assert!(
        errors(&allow)
            .starts_with("t.toml:2:18: replay.on_store_error: only applies to a Redis store"),
        "{}",
        errors(&allow)
    );
    let both = format!(
        "[replay]\nstore = \"redis://127.0.0.1:6379\"\non_store_error = \"allow\"\n{MINIMAL}"
    );
    assert!(parse(&both).is_ok());
}

/// Validates a config in `dir` with `[upstream] url` and `ca`, and `route`
/// added to its one route.
fn with_ca(dir: &Path, url: &str, ca: &str, route: &str) -> Result<Config, ConfigErrors> {
    let src = format!(
        "[upstream]\nurl = \"{url}\"\nca = \"{ca}\"\n[[route]]\npath = \"/hook\"\n\
         provider = \"github\"\nsecrets = [\"env:S\"]\n{route}"
    );
    from_str_with(&src, &dir.join("app.toml"), &env(&[("S", "x")]), &fake)
}

#[test]
fn the_upstream_ca_is_loaded_as_serve_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    cert_files(dir.path());
    std::fs::write(dir.path().join("junk.pem"), "not a certificate\n").unwrap();
    let cfg = with_ca(dir.path(), "https://127.0.0.1:3000", "cert.pem", "").unwrap();
    assert_eq!(cfg.upstream.ca, Some(dir.path().join("cert.pem")));
    assert!(cfg.upstream.ca_digest.is_some());
    assert!(crate::tls::upstream_roots(cfg.upstream.ca.as_deref()).is_ok());
    for (file, why) in [
        ("junk.pem", "no PEM certificate found"),
        ("missing.pem", "No such file"),
    ] {
        let err = with_ca(dir.path(), "https://127.0.0.1:3000", file, "")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("app.toml:3:6: upstream.ca: ") && err.contains(file) && err.contains(why),
            "{err}"
        );
    }
}

#[test]
fn an_upstream_ca_that_no_upstream_uses_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    cert_files(dir.path());
    // A route's https:// upstream uses it too.
    let route = "upstream = \"https://app.internal/in\"\n";
    assert!(with_ca(dir.path(), "http://127.0.0.1:3000", "cert.pem", route).is_ok());
    let err = with_ca(dir.path(), "http://127.0.0.1:3000", "cert.pem", "")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.ends_with(
            "app.toml:3:6: upstream.ca: only applies to https:// upstreams, and every \
             upstream is http://: remove ca, or use https://"
        ),
        "{err}"
    );
}

#[test]
fn url_parts_that_would_be_dropped_are_refused_without_echoing_them() {
    let default_url = |url: &str| MINIMAL.replace("http://127.0.0.1:3000", url);
    assert_eq!(
        errors(&default_url("http://127.0.0.1:3000/hooks")),
        "t.toml:3:7: upstream.url: has the path \"/hooks\", which would not be used: each \
         request keeps its own path; to send a route to another path, set that route's \
         upstream (its path replaces the request's)"
    );
    for url in [
        "http://127.0.0.1:3000/?token=tok3n",
        "http://127.0.0.1:3000/#tok3n",
    ] {
        let err = errors(&default_url(url));
        assert!(err.starts_with("t.toml:3:7: upstream.url: has a "), "{err}");
        assert!(!err.contains("tok3n"), "{err}");
    }
    let route_upstream = |url: &str| format!("{MINIMAL}upstream = \"{url}\"\n");
    let err = errors(&route_upstream("http://127.0.0.1:3000/in?token=tok3n"));
    assert_eq!(
        err,
        "t.toml:9:12: route[0].upstream: has a query (?...), which would not be sent: the \
         forwarded request carries its own query; remove it"
    );
    // The root path, with or without its slash, is no path at all.
    assert!(parse(&default_url("http://127.0.0.1:3000/")).is_ok());
    assert!(parse(&route_upstream("http://127.0.0.1:3000/in/hook")).is_ok());
}

#[test]
fn public_url_with_credentials_is_refused_without_echoing_them() {
    let src = MINIMAL.replace("github", "twilio")
        + "public_url = \"https://hg:s3cret@hooks.example.com/in\"\n";
    let err = errors(&src);
    assert_eq!(
        err,
        "t.toml:9:14: route[0].public_url: a user name or password in the URL is not \
         supported: a provider signs the URL it calls without them; remove them"
    );
    let ok =
        MINIMAL.replace("github", "twilio") + "public_url = \"https://hooks.example.com/in\"\n";
    assert_eq!(
        parse(&ok).unwrap().routes[0].public_url.as_deref(),
        Some("https://hooks.example.com/in")
    );
}

#[test]
fn provider_options_the_scheme_does_not_use_are_refused() {
    let github = MINIMAL.to_owned();
    assert_eq!(
        real_errors(&format!(
            "{github}public_url = \"https://hooks.example.com/in\"\n"
        )),
        "t.toml:9:14: route[0].public_url: provider \"github\" does not sign the URL, so \
         public_url would change nothing; remove it"
    );
    assert_eq!(
        real_errors(&format!("{github}verify_token = \"env:S\"\n")),
        "t.toml:9:16: route[0].verify_token: provider \"github\" has no verify_token \
         challenge (only meta, facebook, instagram, whatsapp, strava use one); remove verify_token"
    );
    let meta = MINIMAL.replace("github", "meta") + "verify_token = \"env:S\"\n";
    assert!(real(&meta).is_ok());
    let post_only = format!("{meta}methods = [\"POST\"]\n");
    assert_eq!(
        real_errors(&post_only),
        "t.toml:9:16: route[0].verify_token: is only read by the GET subscription check, \
         and methods does not include GET: add \"GET\" to methods, or remove verify_token"
    );
}

#[test]
fn an_id_header_that_is_not_signed_is_refused() {
    let src = MINIMAL.replace("github", "hmac")
        + "[route.hmac]\nheader = \"X-Sig\"\nid_header = \"X-Id\"\n";
    assert_eq!(
        errors(&src),
        "t.toml:9:1: route[0].hmac.signed: id_header is set but {id} is not signed; an \
         unsigned id cannot key de-duplication: add {id} to signed, or remove id_header"
    );
}

#[test]
fn a_timestamp_format_is_stated_for_a_timestamp_header_only() {
    let src = MINIMAL.replace("github", "hmac")
        + "[route.hmac]\nheader = \"X-Sig\"\ntimestamp_format = \"unix_ms\"\n";
    assert_eq!(
        errors(&src),
        "t.toml:11:20: route[0].hmac.timestamp_format: is set but neither timestamp_header \
         nor timestamp_key is: there is no timestamp to read"
    );
    let src = MINIMAL.replace("github", "hmac")
        + "[route.hmac]\nheader = \"X-Sig\"\ntimestamp_header = \"X-Ts\"\n\
           signed = \"{timestamp}.{body}\"\ntimestamp_format = \"millis\"\n";
    assert_eq!(
        errors(&src),
        "t.toml:13:20: route[0].hmac.timestamp_format: unknown value \"millis\"; expected \
         \"unix\", \"unix_ms\", \"rfc3339\" or \"iso8601_naive\""
    );
}

#[test]
fn k_v_signature_header_keys_are_checked() {
    let hmac = |lines: &str| {
        MINIMAL.replace("github", "hmac") + "[route.hmac]\nheader = \"X-Sig\"\n" + lines
    };
    assert_eq!(
        errors(&hmac("signature_keys = []\n")),
        "t.toml:11:18: route[0].hmac.signature_keys: needs one or more non-empty keys \
         without '=', ',', ';' or spaces"
    );
    assert_eq!(
        errors(&hmac("signature_keys = [\"v1\"]\npair_separator = \"|\"\n")),
        "t.toml:12:18: route[0].hmac.pair_separator: unknown value \"|\"; expected \",\", \
         \";\" or \" \""
    );
    assert_eq!(
        errors(&hmac("signature_keys = [\"v1\"]\ntimestamp_key = \"t\"\n")),
        "t.toml:9:1: route[0].hmac.signed: timestamp_key is set but {timestamp} is not signed; \
         an unsigned timestamp cannot stop replays"
    );
}

#[test]
fn check_shows_the_log_format_and_the_audit_trail() {
    let shown = |log: &str| {
        let cfg = parse(&format!("[log]\n{log}\n{MINIMAL}")).unwrap();
        render_check(&cfg)
            .lines()
            .find(|l| l.starts_with("log "))
            .unwrap()
            .to_owned()
    };
    assert_eq!(shown(""), "log       json, audit on");
    assert_eq!(shown("audit = false"), "log       json, audit off");
    assert_eq!(
        shown("format = \"pretty\"\naudit = true"),
        "log       pretty, audit on"
    );
}

#[test]
fn proxy_protocol_needs_trusted_peers_and_shows_in_check() {
    let with = |server: &str| format!("[server]\nlisten = \"127.0.0.1:0\"\n{server}\n{MINIMAL}");
    assert_eq!(
        errors(&with("proxy_protocol = \"v2\"")),
        "t.toml:3:18: server.proxy_protocol: is on, but server.trusted_proxies is empty: a \
         PROXY header is believed only from a trusted peer, so every connection would be \
         refused; list the load balancers' addresses in trusted_proxies"
    );
    assert_eq!(
        errors(&with("proxy_protocol = \"v3\"")),
        "t.toml:3:18: server.proxy_protocol: unknown value \"v3\" (did you mean \"v1\"?); \
         expected \"v1\", \"v2\" or \"any\""
    );
    let listen = |server: &str| {
        let cfg = parse(&with(server)).unwrap();
        render_check(&cfg).lines().next().unwrap().to_owned()
    };
    assert_eq!(listen(""), "listen    127.0.0.1:0 (http)");
    let on = "proxy_protocol = \"any\"\ntrusted_proxies = [\"10.0.0.0/8\"]";
    assert_eq!(
        listen(on),
        "listen    127.0.0.1:0 (http, PROXY protocol v1 or v2 from trusted_proxies)"
    );
    let cfg = parse(&with(on)).unwrap();
    assert_eq!(cfg.server.proxy_protocol, Some(ProxyProtocol::Any));
}

#[test]
fn allow_ips_presets_expand_or_say_why_not() {
    let with = |allow: &str| MINIMAL.replace("provider", &format!("allow_ips = {allow}\nprovider"));
    let cfg = parse(&with(r#"["preset:github", "10.0.0.0/8"]"#)).unwrap();
    let route = &cfg.routes[0];
    assert_eq!(route.ip_presets, ["github"]);
    assert!(route
        .allow_ips
        .contains(&"140.82.112.0/20".parse().unwrap()));
    assert!(route.allow_ips.contains(&"10.0.0.0/8".parse().unwrap()));
    let err = errors(&with(r#"["10.0.0.0/8", "preset:shopify"]"#));
    assert!(
        err.starts_with(
            "t.toml:7:28: route[0].allow_ips[1]: Shopify publishes no fixed IP range for webhooks"
        ),
        "{err}"
    );
    let err = errors(&with(r#"["preset:twilio"]"#));
    assert!(
        err.contains("Twilio sends webhooks from no fixed IP addresses"),
        "{err}"
    );
    let err = errors(&with(r#"["preset:githb"]"#));
    assert!(
        err.contains("route[0].allow_ips[0]: unknown preset \"githb\"; known presets: "),
        "{err}"
    );
    let err = errors(&with(r#"["preset:stripe"]"#));
    assert!(
        err.contains("run `hookguard presets update --out FILE`"),
        "{err}"
    );
}

#[test]
fn ip_presets_must_name_a_readable_presets_file() {
    let with = |line: &str| format!("[server]\n{line}\n{MINIMAL}");
    assert_eq!(
        errors(&with("ip_presets = \"presets.toml\"")),
        "t.toml:2:14: server.ip_presets: expected \"file:PATH\" (a file written by \
         `hookguard presets update`)"
    );
    let err = errors(&with("ip_presets = \"file:/nonexistent/presets.toml\""));
    assert!(
        err.starts_with("t.toml:2:14: server.ip_presets: cannot read /nonexistent/presets.toml: "),
        "{err}"
    );
}

#[test]
fn check_lists_the_presets_in_use_and_warns_when_one_is_old() {
    let dir = tempfile::tempdir().unwrap();
    let presets = dir.path().join("p.toml");
    std::fs::write(
        &presets,
        "[github]\nsource = \"https://example.test/feed\"\nsnapshot = \"2001-01-01\"\n\
         ranges = [\"192.0.2.0/24\"]\n",
    )
    .unwrap();
    let src = format!(
        "[server]\nip_presets = \"file:{}\"\n{}",
        presets.display(),
        MINIMAL.replace("provider", "allow_ips = [\"preset:github\"]\nprovider")
    );
    let cfg = parse(&src).unwrap();
    let out = render_check(&cfg);
    let listed = format!(
        "ip presets ({}):\n  preset:github  1 ranges, snapshot 2001-01-01 (",
        presets.display()
    );
    assert!(out.contains(&listed), "{out}");
    assert!(
        out.contains("days old), from https://example.test/feed"),
        "{out}"
    );
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.starts_with("preset:github: its list is ")
                && w.ends_with("refresh it with `hookguard presets update`")),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn a_generic_route_on_md5_or_sha1_is_loaded_with_a_warning() {
    let warnings = |algorithm: &str| {
        let src = format!(
            "{}\n[route.hmac]\nheader = \"X-Sig\"\nalgorithm = \"{algorithm}\"\n",
            MINIMAL.replace("github", "hmac")
        );
        let cfg = real(&src).unwrap();
        let text = render_check(&cfg);
        let warned: Vec<String> = cfg
            .warnings
            .iter()
            .filter(|w| w.starts_with("route[0].hmac.algorithm: "))
            .cloned()
            .collect();
        for w in &warned {
            assert!(text.contains(w.as_str()), "check prints {w:?}:\n{text}");
        }
        warned
    };
    for legacy in ["md5", "sha1"] {
        let warned = warnings(legacy);
        assert_eq!(warned.len(), 1, "{legacy}");
        assert!(
            warned[0].contains(&format!("{legacy:?} is a legacy digest")),
            "{warned:?}"
        );
    }
    assert!(warnings("sha256").is_empty());
    assert!(warnings("sha512").is_empty());
}

#[test]
fn hash_mode_places_the_secret_once_and_check_warns() {
    let route = |hmac: &str| {
        format!(
            "{}\n[route.hmac]\nheader = \"X-Sig\"\n{hmac}\n",
            MINIMAL.replace("github", "hmac")
        )
    };
    let cfg = real(&route("mode = \"hash\"\nsigned = \"{secret}{body}\"")).unwrap();
    let text = render_check(&cfg);
    assert!(
        text.contains("route[0].hmac.mode: \"hash\": a plain digest"),
        "{text}"
    );
    let refused = [
        (
            "signed = \"{secret}.{body}\"",
            "is only for mode = \"hash\"",
        ),
        ("mode = \"hash\"", "needs {secret} in the template"),
        (
            "mode = \"hash\"\nsigned = \"{secret}.{body}.{secret}\"",
            "exactly once",
        ),
        ("mode = \"keyed\"", "route[0].hmac.mode"),
        (
            "mode = \"hash\"\ntimestamp_header = \"X-Ts\"\nsigned = \"{body}{timestamp}{secret}\"",
            "{body} and {timestamp} are adjacent",
        ),
    ];
    for (hmac, needle) in refused {
        let err = errors(&route(hmac));
        assert!(err.contains(needle), "{hmac}: {err}");
    }
    // Cloudinary's shape loads once the timestamp is stated as digits.
    let cloudinary = "mode = \"hash\"\nalgorithm = \"sha1\"\ntimestamp_header = \"X-Ts\"\n\
                      timestamp_format = \"unix\"\nsigned = \"{body}{timestamp}{secret}\"";
    real(&route(cloudinary)).unwrap();
}

#[test]
fn signature_headers_are_one_header_or_an_ordered_list() {
    let route = |hmac: &str| {
        format!(
            "{}\n[route.hmac]\n{hmac}\n",
            MINIMAL.replace("github", "hmac")
        )
    };
    let seen = std::cell::RefCell::new(None);
    let build = |name: &str, p: ProviderParams<'_>| {
        *seen.borrow_mut() = p.hmac.cloned();
        fake(name, p)
    };
    let src = route("headers = [\"X-Gitea-Signature\", \"X-Gogs-Signature\"]");
    from_str_with(&src, Path::new("t.toml"), &env(&[("S", "x")]), &build).unwrap();
    let hmac = seen.into_inner().unwrap();
    assert_eq!(hmac.header, "x-gitea-signature");
    assert_eq!(hmac.fallback_headers, vec!["x-gogs-signature".to_owned()]);
    let refused = [
        (
            "header = \"X-A\"\nheaders = [\"X-B\"]",
            "route[0].hmac.headers: set header or headers, not both",
        ),
        ("headers = []", "route[0].hmac.headers: needs 1 to 8"),
        (
            "headers = [\"X-A\", \"x-a\"]",
            "route[0].hmac.headers: needs 1 to 8",
        ),
        (
            "headers = [\"X A\"]",
            "route[0].hmac.headers: invalid header name",
        ),
        ("algorithm = \"sha256\"", "route[0].hmac.header: missing"),
    ];
    for (hmac, needle) in refused {
        let err = errors(&route(hmac));
        assert!(err.contains(needle), "{hmac}: {err}");
    }
}
