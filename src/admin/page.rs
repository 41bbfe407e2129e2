//! The status page at `GET /`: one HTML document, its script and its
//! stylesheet, embedded in the binary at build time (`page/`), so the page
//! needs nothing from outside and works offline.
//!
//! The page holds no data: its script fetches the JSON endpoints with the
//! admin token, so the three files are served without one, and serving them
//! tells nobody anything. Every admin response carries a strict
//! Content-Security-Policy: scripts and styles from this listener only, no
//! inline script, nothing framed, no form posted anywhere.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

/// The policy of every admin response (the page's and the JSON documents').
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'none'";

/// Path of the page's script.
pub const SCRIPT_PATH: &str = "/assets/status.js";

/// Path of the page's stylesheet.
pub const STYLE_PATH: &str = "/assets/status.css";

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/status.js");
const STYLE: &str = include_str!("page/status.css");

/// The page file at `path`, if it is one (served without a token).
pub fn asset(path: &str) -> Option<Response<Full<Bytes>>> {
    let (content_type, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        SCRIPT_PATH => ("text/javascript; charset=utf-8", SCRIPT),
        STYLE_PATH => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Some(resp)
}

/// Adds the headers every admin response carries: the policy above, no
/// content sniffing, no referrer, and no caching (the documents change
/// every second and some are behind a token).
pub fn harden(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `html` has an attribute `on...=` (an inline event handler).
    fn has_inline_handler(html: &str) -> bool {
        html.split(|c: char| c.is_whitespace()).any(|word| {
            word.strip_prefix("on").is_some_and(|rest| {
                let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                !name.is_empty() && rest[name.len()..].starts_with('=')
            })
        })
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        // One script and one stylesheet, by path on this listener.
        assert!(INDEX.contains(&format!("<script src=\"{SCRIPT_PATH}\"")));
        assert!(INDEX.contains(&format!("<link rel=\"stylesheet\" href=\"{STYLE_PATH}\">")));
        assert_eq!(INDEX.matches("<script").count(), 1, "inline script");
        assert!(!INDEX.contains("<style") && !INDEX.contains(" style="));
        assert!(!has_inline_handler(INDEX), "inline event handler");
        assert!(has_inline_handler("<p onclick=\"x\">"));
        // Nothing from another origin (the script names the SVG namespace,
        // an identifier, not a location).
        let script = SCRIPT.replace("'http://www.w3.org/2000/svg'", "");
        for file in [INDEX, &script, STYLE] {
            assert!(!file.contains("http:") && !file.contains("https:"));
            assert!(!file.contains("url(") && !file.contains("@import"));
        }
        // The script writes text, never markup.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(sink), "{sink}");
        }
    }

    #[test]
    fn files_have_their_types() {
        for (path, kind) in [
            ("/", "text/html"),
            (SCRIPT_PATH, "text/javascript"),
            (STYLE_PATH, "text/css"),
        ] {
            let resp = asset(path).unwrap();
            let ct = resp.headers()[header::CONTENT_TYPE].to_str().unwrap();
            assert!(ct.starts_with(kind), "{path}: {ct}");
        }
        assert!(asset("/status").is_none());
        assert!(asset("/assets/other.js").is_none());
    }
}
