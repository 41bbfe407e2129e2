//! The URI a request goes to upstream: the route's upstream scheme and
//! authority, with the request's own path and query or the route's path.

use http::uri::PathAndQuery;
use http::Uri;

/// The upstream URI for a request: the upstream's scheme and authority, its
/// path when the route overrides it (else the request's path), and the
/// request's query, unchanged.
pub(crate) fn upstream_uri(
    base: &Uri,
    override_path: bool,
    request: &Uri,
) -> Result<Uri, http::Error> {
    let path_and_query = match (override_path, request.path_and_query()) {
        // The request's own path and query, shared rather than copied.
        (false, Some(pq)) => pq.clone(),
        (false, None) => PathAndQuery::from_static("/"),
        (true, _) => match request.query() {
            Some(query) => format!("{}?{query}", base.path()).parse()?,
            None => base.path().parse()?,
        },
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    parts.path_and_query = Some(path_and_query);
    Ok(Uri::from_parts(parts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_path_override_keeps_query() {
        let base: Uri = "http://127.0.0.1:3000/hooks/github".parse().unwrap();
        let req: Uri = "/webhooks/github?a=1&b=%20".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, true, &req).unwrap(),
            "http://127.0.0.1:3000/hooks/github?a=1&b=%20"
        );
        assert_eq!(
            upstream_uri(&base, false, &req).unwrap(),
            "http://127.0.0.1:3000/webhooks/github?a=1&b=%20"
        );
        let plain: Uri = "/webhooks/github".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, false, &plain).unwrap(),
            "http://127.0.0.1:3000/webhooks/github"
        );
        assert_eq!(
            upstream_uri(&base, true, &plain).unwrap(),
            "http://127.0.0.1:3000/hooks/github"
        );
        let bare: Uri = "https://app.internal:8443".parse().unwrap();
        assert_eq!(
            upstream_uri(&bare, true, &req).unwrap(),
            "https://app.internal:8443/?a=1&b=%20"
        );
        assert_eq!(
            upstream_uri(&bare, false, &req).unwrap(),
            "https://app.internal:8443/webhooks/github?a=1&b=%20"
        );
    }
}
