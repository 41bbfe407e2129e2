//! The deployment files are correct by construction: Docker and Kubernetes
//! do not run here, so this parses every YAML file under `deploy/`, checks
//! that the pieces agree (mounts, probes, ports, non-root, read-only root),
//! and runs the configuration they mount through `config::from_str` with
//! the secret and certificate files they reference stubbed in a temp dir.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_norway::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every document of every `.yaml`/`.yml` file in `dir`.
fn documents(dir: &Path) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no YAML in {}", dir.display());
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()));
            docs.push(value);
        }
    }
    docs
}

/// A fresh directory, removed when the guard drops.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("hookguard-deploy-{name}-"))
        .tempdir()
        .unwrap()
}

/// Quoted absolute paths in `toml` (with an optional `file:` prefix) under `prefix`.
fn referenced_paths(toml: &str, prefix: &str) -> Vec<String> {
    toml.split('"')
        .skip(1)
        .step_by(2)
        .map(|s| s.strip_prefix("file:").unwrap_or(s))
        .filter(|s| s.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// Rewrites `prefix` to a temp dir, creates every referenced file there
/// (certificates and keys as a real self-signed pair), and validates.
fn validate_with_stubs(toml: &str, prefix: &str, name: &str) -> hookguard::config::Config {
    let tmp = temp_dir(name);
    let dir = tmp.path();
    let root = format!("{}/", dir.display());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let refs = referenced_paths(toml, prefix);
    assert!(
        !refs.is_empty(),
        "{name}: no file references under {prefix}"
    );
    for path in &refs {
        let stub = Path::new(&path.replacen(prefix, &root, 1)).to_path_buf();
        std::fs::create_dir_all(stub.parent().unwrap()).unwrap();
        let content = if path.ends_with(".crt") {
            cert.cert.pem()
        } else if path.ends_with(".key") {
            cert.key_pair.serialize_pem()
        } else {
            "stub-webhook-secret\n".to_owned()
        };
        std::fs::write(stub, content).unwrap();
    }
    let src = toml.replace(prefix, &root);
    let cfg = hookguard::config::from_str(&src, &dir.join("hookguard.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("{name}: config invalid:\n{e}"));
    if let Some(tls) = &cfg.server.tls {
        hookguard::tls::server_config(tls).expect("TLS files usable");
    }
    cfg
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn kubernetes_sidecar_is_consistent_and_its_config_validates() {
    let docs = documents(&deploy_dir().join("kubernetes"));
    let config_map = find(&docs, "ConfigMap");
    let toml = config_map["data"]["hookguard.toml"].as_str().unwrap();
    let deployment = find(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let containers = pod["containers"].as_sequence().unwrap();
    assert!(containers.len() >= 2, "hookguard runs as a sidecar");
    let hg = containers
        .iter()
        .find(|c| c["name"] == "hookguard")
        .expect("hookguard container");
    assert_eq!(hg["securityContext"]["readOnlyRootFilesystem"], true);

    // Volumes: the ConfigMap holds the config, Secrets hold the rest.
    let volumes = pod["volumes"].as_sequence().unwrap();
    let mounts = hg["volumeMounts"].as_sequence().unwrap();
    let mount_of = |volume: &Value| -> String {
        let name = &volume["name"];
        let m = mounts
            .iter()
            .find(|m| &m["name"] == name)
            .expect("every volume is mounted");
        m["mountPath"].as_str().unwrap().to_owned()
    };
    let config_volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"] == config_map["metadata"]["name"])
        .expect("ConfigMap volume");
    let args: Vec<&str> = hg["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "serve",
            "-c",
            &format!("{}/hookguard.toml", mount_of(config_volume))
        ]
    );
    let secret_mounts: Vec<String> = volumes
        .iter()
        .filter(|v| v["secret"]["secretName"].is_string())
        .map(mount_of)
        .collect();
    let refs = referenced_paths(toml, "/etc/hookguard/");
    assert!(refs.len() >= 3, "{refs:?}");
    for path in &refs {
        assert!(
            secret_mounts
                .iter()
                .any(|m| path.starts_with(&format!("{m}/"))),
            "{path} is not on a Secret volume ({secret_mounts:?})"
        );
    }

    let cfg = validate_with_stubs(toml, "/etc/hookguard/", "k8s");
    assert!(cfg.server.tls.is_some(), "TLS from a Secret");
    assert_eq!(
        cfg.upstream.url.host(),
        Some("127.0.0.1"),
        "the app sidecar"
    );

    // Probes on the admin port, which is the configured admin listener.
    let admin_port = cfg.admin.expect("admin listener").listen.port();
    let ports = hg["ports"].as_sequence().unwrap();
    let port_named = |name: &Value| {
        ports
            .iter()
            .find(|p| &p["name"] == name)
            .map(|p| p["containerPort"].as_u64().unwrap())
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &hg[probe]["httpGet"];
        assert_eq!(get["path"], path);
        assert_eq!(port_named(&get["port"]), Some(u64::from(admin_port)));
    }
    let https = port_named(&Value::from("https")).unwrap();
    assert_eq!(https, u64::from(cfg.server.listen.port()));
    let service = find(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "https");
}

#[test]
fn compose_mounts_a_config_that_validates() {
    let dir = deploy_dir();
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    let compose: Value = serde_norway::from_str(&text).unwrap();
    let hg = &compose["services"]["hookguard"];
    assert_eq!(hg["read_only"], true);
    assert!(compose["services"]["app"].is_mapping(), "a sample app");
    let mount = hg["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .find(|v| v.contains("hookguard.toml"))
        .expect("config mounted");
    let mut parts = mount.split(':');
    let (host, container) = (parts.next().unwrap(), parts.next().unwrap());
    let command: Vec<&str> = hg["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(command, ["serve", "-c", container]);
    let toml = std::fs::read_to_string(dir.join(host)).unwrap();
    for path in referenced_paths(&toml, "/run/secrets/") {
        let name = path.trim_start_matches("/run/secrets/");
        assert!(
            hg["secrets"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|s| s == name),
            "{name} not given to hookguard"
        );
        let file = compose["secrets"][name]["file"].as_str().unwrap();
        assert!(dir.join(file).is_file(), "{file}");
    }
    let cfg = validate_with_stubs(&toml, "/run/secrets/", "compose");
    assert_eq!(cfg.upstream.url.host(), Some("app"));
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].contains(" AS builder"));
    assert!(froms[1].contains("nonroot"));
    assert!(text.lines().any(|l| l.starts_with("USER nonroot")));
}
