//! Every setting applies or is refused: TOML spellings of the same data,
//! settings that would change nothing, URL parts that would be dropped, and
//! what `check` loads and shows. (The table test of every documented key,
//! through the real proxy, is `tests/config_keys/`.)

use std::path::Path;

use super::tests::{env, errors, fake, parse, MINIMAL};
use super::*;

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
