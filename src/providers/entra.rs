//! Microsoft Entra ID (Microsoft identity platform) access tokens, as two
//! providers receive them: Microsoft Graph rich notifications
//! (`validationTokens` in the body) and Azure Event Grid deliveries to an
//! Entra-protected webhook (`Authorization: Bearer`).
//!
//! Facts (Microsoft Learn "Access token claims reference", identity
//! platform; "Set up change notifications that include resource data",
//! section "Validating the authenticity of notifications"; "Deliver events
//! to Microsoft Entra protected endpoints", Event Grid):
//! - tokens are RS256 JWTs signed with the keys of the identity platform's
//!   OpenID configuration (`jwks_uri`,
//!   `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`);
//! - `aud` is the receiving app: its application id, or (v1.0 tokens) the
//!   application ID URI the token was requested for;
//! - `iss` names the tenant that issued it: `https://sts.windows.net/<tenant>/`
//!   for v1.0 tokens, `https://login.microsoftonline.com/<tenant>/v2.0` for
//!   v2.0 tokens;
//! - the client that requested the token is `appid` (v1.0 tokens) or `azp`
//!   (v2.0 tokens, "a replacement for appid").
//!
//! Owns these claim rules and where the keys come from; the signature,
//! `exp`/`nbf` and `aud` are `jwt.rs`'s checks. A token is a bearer
//! credential: it binds who sent the request, never its body.

use jsonwebtoken::Algorithm::RS256;
use serde_json::{Map, Value};

use super::common::invalid;
use super::common::ToleranceSpec;
use super::jwks::{parse_jwks, KeySet};
use super::jwt::{JwtSpec, JwtVerifier, KeysFrom};
use super::{BuildError, Inbound, KeyRef, KeyRequest, Rejection};
use crate::body::Payload;

/// The app id of "Microsoft Graph Change Tracking", the publisher of Graph
/// change notifications (the `appid` the Graph docs say to require).
pub(crate) const GRAPH_PUBLISHER: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// The identity platform's keys for tokens of any tenant (the `jwks_uri`
/// of the `common` OpenID configuration).
pub(crate) const COMMON_JWKS: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";

/// Clock skew allowed on `exp` and `nbf`: Microsoft.IdentityModel's default
/// `ClockSkew` (5 minutes).
const SKEW: ToleranceSpec = ToleranceSpec { default_secs: 300 };

/// RS256 only, `exp` required; `iss` and the client are checked here.
const TOKEN_RULES: JwtSpec = JwtSpec {
    keys: KeysFrom::PublicKeys,
    algorithms: &[RS256],
    require_exp: true,
    tolerance: Some(SKEW),
    ..JwtSpec::BASE
};

/// The tenant `iss` must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tenant {
    /// The route's own tenant (Event Grid delivers to one app in one tenant).
    Fixed(String),
    /// The token's `tid`: Graph notifications for a multi-tenant app come
    /// from every tenant that subscribed.
    OfToken,
}

/// The rules for one route's Entra tokens.
pub(crate) struct EntraToken {
    jwt: JwtVerifier,
    jwks_url: String,
    audience: String,
    tenant: Tenant,
    /// The `appid`/`azp` required, if any.
    client: Option<&'static str>,
}

impl EntraToken {
    /// Tokens for `audience`, issued by `tenant`, requested by `client`,
    /// signed with the keys at `jwks_url`.
    pub(crate) fn new(
        provider: &'static str,
        tolerance: Option<std::time::Duration>,
        audience: String,
        tenant: Tenant,
        client: Option<&'static str>,
        jwks_url: String,
    ) -> Result<Self, BuildError> {
        let jwt = JwtVerifier::fetched(provider, &TOKEN_RULES, tolerance, audience.clone())?;
        Ok(Self {
            jwt,
            jwks_url,
            audience,
            tenant,
            client,
        })
    }

    /// The JWKS of `tenant`: its own OpenID configuration's `jwks_uri`.
    pub(crate) fn tenant_jwks(tenant: &str) -> String {
        format!("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys")
    }

    /// The window applied to `exp` and `nbf` as skew.
    pub(crate) fn tolerance(&self) -> Option<std::time::Duration> {
        super::Verifier::tolerance(&self.jwt)
    }

    /// The `Authorization` header, where Event Grid sends its token.
    pub(crate) fn header(&self) -> Option<&http::HeaderName> {
        self.jwt.token_header_name()
    }

    /// The header token is present and its `alg` allowed.
    pub(crate) fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        super::Verifier::precheck(&self.jwt, req)
    }

    /// The key set the request's `Authorization` token needs.
    pub(crate) fn key_for_request(&self, req: &Inbound<'_>) -> Result<KeyRef, Rejection> {
        Ok(self.key_ref(self.jwt.token_kid(req)?))
    }

    /// The key set `token` needs.
    pub(crate) fn key_for_token(&self, token: &str) -> Result<KeyRef, Rejection> {
        Ok(self.key_ref(self.jwt.kid_of(token)?))
    }

    fn key_ref(&self, key_id: Option<String>) -> KeyRef {
        KeyRef {
            url: self.jwks_url.clone(),
            key_id,
            parse: parse_jwks,
            request: KeyRequest::Get,
        }
    }

    /// Every check of the request's `Authorization` token.
    pub(crate) fn check_request(
        &self,
        keys: &KeySet,
        req: &Inbound<'_>,
        body: &Payload,
    ) -> Result<(), Rejection> {
        let checked = self.jwt.check(keys, req, body)?;
        self.check_claims(&checked.claims)
    }

    /// Every check of one token taken from the body.
    pub(crate) fn check_token(
        &self,
        keys: &KeySet,
        token: &str,
        now_ms: i64,
    ) -> Result<(), Rejection> {
        let checked = self.jwt.check_token(keys, token, now_ms)?;
        self.check_claims(&checked.claims)
    }

    /// `iss` and the client, once signature, times and `aud` passed.
    fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        let tenant = match &self.tenant {
            Tenant::Fixed(t) => t.as_str(),
            Tenant::OfToken => claims
                .get("tid")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| invalid("claim tid is absent"))?,
        };
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("claim iss is absent"))?;
        if !issuers(tenant).contains(&iss.to_owned()) {
            return Err(invalid(match self.tenant {
                Tenant::Fixed(_) => "claim iss is not the route's tenant",
                Tenant::OfToken => "claim iss is not the identity platform's for the token's tid",
            }));
        }
        if let Some(want) = self.client {
            check_client(claims, want)?;
        }
        Ok(())
    }

    /// The rule as `check` prints it.
    pub(crate) fn rule(&self) -> String {
        let tenant = match &self.tenant {
            Tenant::Fixed(t) => t.as_str(),
            Tenant::OfToken => "<tid>",
        };
        let [v1, v2] = issuers(tenant);
        let mut rule = format!(
            "JWKS {}; RS256; iss {v1} or {v2}; aud {}; exp required",
            self.jwks_url, self.audience
        );
        if let Some(client) = self.client {
            rule.push_str(&format!("; appid/azp {client}"));
        }
        rule
    }
}

/// The two issuers of `tenant`: v1.0 and v2.0 tokens.
fn issuers(tenant: &str) -> [String; 2] {
    [
        format!("https://sts.windows.net/{tenant}/"),
        format!("https://login.microsoftonline.com/{tenant}/v2.0"),
    ]
}

/// `appid` (v1.0) or `azp` (v2.0) must be present, and every one present
/// must be `want`.
fn check_client(claims: &Map<String, Value>, want: &str) -> Result<(), Rejection> {
    let named: Vec<Option<&str>> = ["appid", "azp"]
        .iter()
        .filter_map(|c| claims.get(*c))
        .map(Value::as_str)
        .collect();
    if named.is_empty() {
        return Err(invalid("claims appid and azp are absent"));
    }
    if named.iter().all(|c| *c == Some(want)) {
        Ok(())
    } else {
        Err(invalid("claim appid/azp is not the expected client"))
    }
}

/// A tenant id as `iss` carries it: a GUID (a domain name never appears
/// there, so a route naming one could accept nothing).
pub(crate) fn check_tenant_id(tenant: &str) -> Result<(), BuildError> {
    let groups: Vec<&str> = tenant.split('-').collect();
    let shape = groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12];
    if shape && tenant.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()) {
        return Ok(());
    }
    Err(BuildError {
        field: "tenant".into(),
        message: "must be the Microsoft Entra tenant ID, a GUID such as \
                  72f988bf-86f1-41af-91ab-2d7cd011db47 (tokens name the tenant by its ID)"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testutil::inbound;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_client_is_appid_or_azp_and_never_two_different_ones() {
        let ok = [
            serde_json::json!({ "appid": GRAPH_PUBLISHER }),
            serde_json::json!({ "azp": GRAPH_PUBLISHER }),
            serde_json::json!({ "appid": GRAPH_PUBLISHER, "azp": GRAPH_PUBLISHER }),
        ];
        for c in ok {
            assert_eq!(
                check_client(&claims(c.clone()), GRAPH_PUBLISHER),
                Ok(()),
                "{c}"
            );
        }
        let bad = [
            serde_json::json!({}),
            serde_json::json!({ "azp": "other" }),
            serde_json::json!({ "appid": GRAPH_PUBLISHER, "azp": "other" }),
            serde_json::json!({ "appid": 7 }),
        ];
        for c in bad {
            assert!(
                check_client(&claims(c.clone()), GRAPH_PUBLISHER).is_err(),
                "{c}"
            );
        }
    }

    #[test]
    fn tenant_ids_are_guids() {
        assert!(check_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        for bad in [
            "contoso.onmicrosoft.com",
            "common",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab-2d7cd011db47/",
            "72f988bg-86f1-41af-91ab-2d7cd011db47",
        ] {
            assert!(check_tenant_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rule_names_its_keys_window_and_claims() {
        // A tenant's keys: the jwks_uri of its OpenID configuration.
        let jwks = EntraToken::tenant_jwks("contoso-tid");
        assert_eq!(
            jwks,
            "https://login.microsoftonline.com/contoso-tid/discovery/v2.0/keys"
        );
        let tenant = Tenant::Fixed("contoso-tid".into());
        let rule = EntraToken::new(
            "azure-eventgrid",
            None,
            "api://app".into(),
            tenant,
            None,
            jwks,
        )
        .unwrap();
        assert_eq!(rule.tolerance(), Some(std::time::Duration::from_secs(300)));
        let text = rule.rule();
        for part in [
            "JWKS https://login.microsoftonline.com/contoso-tid/discovery/v2.0/keys",
            "iss https://sts.windows.net/contoso-tid/ or",
            "aud api://app",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let narrow = Some(std::time::Duration::from_secs(30));
        let rule = EntraToken::new(
            "microsoft-graph",
            narrow,
            "app".into(),
            Tenant::OfToken,
            None,
            COMMON_JWKS.into(),
        )
        .unwrap();
        assert_eq!(rule.tolerance(), narrow);
        assert!(rule.rule().contains("<tid>"), "{}", rule.rule());
    }

    #[test]
    fn the_precheck_needs_a_bearer_token_of_an_allowed_alg() {
        let rule = EntraToken::new(
            "azure-eventgrid",
            None,
            "api://app".into(),
            Tenant::Fixed("t".into()),
            None,
            COMMON_JWKS.into(),
        )
        .unwrap();
        let ask = |auth: Option<&str>| {
            let (method, uri) = (http::Method::POST, http::Uri::from_static("/eg"));
            let mut headers = http::HeaderMap::new();
            if let Some(a) = auth {
                headers.insert("authorization", a.parse().unwrap());
            }
            rule.precheck(&inbound(&method, &uri, &headers))
        };
        assert!(matches!(ask(None), Err(Rejection::MissingSignature { .. })));
        // HS256 is never an Entra token's algorithm.
        let hs256 = "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln";
        assert!(matches!(
            ask(Some(hs256)),
            Err(Rejection::InvalidSignature { .. })
        ));
        let rs256 = "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln";
        assert_eq!(ask(Some(rs256)), Ok(()));
    }
}
