//! `hookguard presets update`: fetches every provider's feed ([`FEEDS`])
//! with hookguard's own HTTPS client (webpki roots, never skipped) and
//! merges what it got into the previous set. A feed that cannot be fetched
//! or read keeps the previous data for that provider, and the report says
//! so; providers without a feed (GitLab, Brevo) keep theirs as they are.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use time::Date;

use super::feeds::{self, Feed, FEEDS};
use super::{date_text, IpPresets, Preset};
use crate::body::Payload;
use crate::cli::{PresetsAction, PresetsArgs};
use crate::upstream::UpstreamClient;

/// Longest wait for a feed's response head.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest feed body read (Atlassian's, the largest, is well under it).
const MAX_FEED_BYTES: usize = 8 << 20;
/// Redirects followed per URL.
const MAX_REDIRECTS: usize = 3;

/// What became of one provider's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOutcome {
    /// Fetched and read: this many ranges.
    Fetched { name: &'static str, ranges: usize },
    /// Not fetched or not readable; the previous data (of this snapshot
    /// date, if there was any) stays.
    Kept {
        name: &'static str,
        error: String,
        previous: Option<Date>,
    },
}

impl FeedOutcome {
    /// One line for the report.
    pub fn line(&self) -> String {
        match self {
            FeedOutcome::Fetched { name, ranges } => format!("{name}: {ranges} ranges"),
            FeedOutcome::Kept {
                name,
                error,
                previous: Some(date),
            } => format!(
                "{name}: NOT UPDATED ({error}); kept the previous list (snapshot {})",
                date_text(*date)
            ),
            FeedOutcome::Kept {
                name,
                error,
                previous: None,
            } => format!("{name}: NOT UPDATED ({error}); no previous list, so no preset"),
        }
    }

    pub fn fetched(&self) -> bool {
        matches!(self, FeedOutcome::Fetched { .. })
    }
}

/// Fetches every feed and returns `previous` updated with what was fetched,
/// dated `today`. `feed_base` (tests only) replaces each URL's scheme and
/// host: `https://host/path` is fetched as `{feed_base}/{name}/path`.
pub async fn update(
    previous: IpPresets,
    feed_base: Option<&str>,
    today: Date,
) -> Result<(IpPresets, Vec<FeedOutcome>), String> {
    let client = UpstreamClient::new(None).map_err(|e| e.to_string())?;
    let mut set = previous;
    let mut outcomes = Vec::with_capacity(FEEDS.len());
    for feed in FEEDS {
        match fetch_feed(&client, feed, feed_base).await {
            Ok(ranges) => {
                outcomes.push(FeedOutcome::Fetched {
                    name: feed.name,
                    ranges: ranges.len(),
                });
                let preset = Preset {
                    source: feed.urls.join(" and "),
                    snapshot: today,
                    ranges,
                };
                set = set.with(feed.name, preset);
            }
            Err(error) => outcomes.push(FeedOutcome::Kept {
                name: feed.name,
                error,
                previous: set.lookup(feed.name).ok().map(|p| p.snapshot),
            }),
        }
    }
    Ok((set, outcomes))
}

async fn fetch_feed(
    client: &UpstreamClient,
    feed: &Feed,
    feed_base: Option<&str>,
) -> Result<Vec<ipnet::IpNet>, String> {
    let mut ranges = Vec::new();
    for url in feed.urls {
        let url = match feed_base {
            Some(base) => rebase(url, base, feed.name)?,
            None => url.to_string(),
        };
        let body = fetch(client, &url)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let parsed = feeds::parse(feed.format, &body).map_err(|e| format!("{url}: {e}"))?;
        for net in parsed {
            if !ranges.contains(&net) {
                ranges.push(net);
            }
        }
    }
    Ok(ranges)
}

/// `https://host/path` as `{base}/{name}/path`.
fn rebase(url: &str, base: &str, name: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    Ok(format!(
        "{}/{name}{}",
        base.trim_end_matches('/'),
        uri.path()
    ))
}

/// GETs `url`, following a few redirects, and reads at most
/// [`MAX_FEED_BYTES`] of a 2xx answer.
async fn fetch(client: &UpstreamClient, url: &str) -> Result<Bytes, String> {
    let mut uri: Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    for _ in 0..=MAX_REDIRECTS {
        let request = Request::get(uri.clone())
            .header(
                header::USER_AGENT,
                concat!("hookguard/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::ACCEPT, "application/json, text/plain, */*")
            .body(Payload::new())
            .map_err(|e| e.to_string())?;
        let response = client
            .send(request, FETCH_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_redirection() {
            uri = redirect_target(&uri, response.headers())?;
            continue;
        }
        if status != StatusCode::OK {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        return read_capped(response.into_body()).await;
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// The `Location` of a redirect from `from`, absolute; only to `https://`
/// (or back to `from`'s own scheme and host, for a path).
fn redirect_target(from: &Uri, headers: &http::HeaderMap) -> Result<Uri, String> {
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("a redirect without a Location")?;
    if location.starts_with('/') {
        let scheme = from.scheme_str().unwrap_or("https");
        let authority = from.authority().map_or("", |a| a.as_str());
        return format!("{scheme}://{authority}{location}")
            .parse()
            .map_err(|e| format!("bad redirect {location:?}: {e}"));
    }
    if !location.starts_with("https://") {
        return Err(format!("refused a redirect off HTTPS to {location:?}"));
    }
    location
        .parse()
        .map_err(|e| format!("bad redirect {location:?}: {e}"))
}

async fn read_capped(mut body: hyper::body::Incoming) -> Result<Bytes, String> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > MAX_FEED_BYTES {
                return Err(format!("larger than {} MiB", MAX_FEED_BYTES >> 20));
            }
            out.extend_from_slice(data);
        }
    }
    Ok(Bytes::from(out))
}

/// `hookguard presets update`: the exit status (0 every feed fetched, 1
/// some kept their previous data, 2 nothing written). The report goes to
/// stderr, one line per provider; the file to `--out` or stdout.
pub fn run(args: &PresetsArgs) -> u8 {
    let PresetsAction::Update { out, feed_base } = &args.action;
    let previous = match out.as_deref().filter(|p| p.exists()) {
        None => (*IpPresets::builtin()).clone(),
        Some(path) => {
            let read = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| IpPresets::parse(&text, &path.display().to_string()));
            match read {
                Ok(set) => set,
                Err(e) => {
                    eprintln!("hookguard: {}: {e}", path.display());
                    return 2;
                }
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookguard: cannot start the runtime: {e}");
            return 2;
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let updating = update(previous, feed_base.as_deref(), now.date());
    let (set, outcomes) = match runtime.block_on(updating) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("hookguard: {e}");
            return 2;
        }
    };
    for outcome in &outcomes {
        eprintln!("{}", outcome.line());
    }
    let header = [
        format!(
            "Written by `hookguard presets update` on {}.",
            date_text(now.date())
        ),
        "Load it with [server] ip_presets = \"file:PATH\"; each snapshot is the date".into(),
        "its provider's list was fetched (or, if a fetch failed, the previous one).".into(),
    ];
    let text = set.to_toml(&header);
    let written = match out {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => write_atomically(path, &text),
    };
    if let Err(e) = written {
        eprintln!("hookguard: cannot write the presets: {e}");
        return 2;
    }
    u8::from(!outcomes.iter().all(FeedOutcome::fetched))
}

/// Writes `text` to a temporary file beside `path`, then renames it over
/// `path`: a reload never reads half a file.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_base_keeps_the_path_under_the_provider_name() {
        let url = "https://api.github.com/meta";
        assert_eq!(
            rebase(url, "http://127.0.0.1:9/", "github").unwrap(),
            "http://127.0.0.1:9/github/meta"
        );
    }

    #[test]
    fn redirects_stay_on_https() {
        let from: Uri = "https://stripe.com/files/ips/x.json".parse().unwrap();
        let to = |location: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::LOCATION, location.parse().unwrap());
            redirect_target(&from, &headers)
        };
        assert_eq!(
            to("/other").unwrap().to_string(),
            "https://stripe.com/other"
        );
        assert_eq!(
            to("https://cdn.example/x").unwrap().to_string(),
            "https://cdn.example/x"
        );
        assert!(to("http://cdn.example/x").is_err());
    }
}
