//! Family: JWT/JWS-signed webhooks — the provider sends a signed token (in a
//! header, with or without `Bearer `, or as the whole body) whose claims bind
//! the request: the body's hash, the URL's hash, a time window, an issuer.
//!
//! Owns the per-scheme rules as catalog data ([`JwtSpec`]): the algorithm
//! allowlist (`none` is never on it, and `jsonwebtoken` cannot even parse
//! it), where the token is, which claims are required and how they are
//! compared. Signature checking and JWT parsing are `jsonwebtoken`'s (on
//! `ring`); the keys and the family rule that stops HS/RS confusion are
//! `jwks.rs`'s. Time claims are checked here against the request's one
//! reading of the clock (`Inbound::now_ms`), not the library's clock:
//! `exp` and `nbf` allow the route's tolerance as clock skew, and `iat`,
//! where the scheme signs one, must lie within the tolerance both ways.
//! Hash claims are decoded and compared in constant time with the SHA-256
//! of the exact received bytes.

use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Header, Validation};
use ring::digest;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::common::invalid;
use super::common::{header_bytes, header_name, strip_prefix_ci, Tolerance, ToleranceSpec};
use super::handshake::Handshake;
use super::jwks::{KeyFamily, KeySet};
use super::keys::{no_match_detail, PUBLIC_KEY, SECRET};
use super::signed_url::{self, UrlTarget};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection, Verified,
    Verifier,
};
use crate::body::Payload;

/// Longest token taken from a body (Wix-style bodies are the token).
const MAX_BODY_TOKEN: usize = 256 * 1024;

/// Where the token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenAt {
    /// One header; an optional `Bearer ` prefix is removed.
    Header(&'static str),
    /// The whole body is the token (`Content-Type: application/jwt`).
    Body,
}

/// Which route field holds the keys; the family of each key then decides
/// the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeysFrom {
    /// `secrets`: HMAC (HS256/384/512).
    Secrets,
    /// `public_keys`: RSA, EC or Ed25519 (PEM, JWK or JWKS).
    PublicKeys,
    /// Whichever of the two the route sets, never both: the generic `jwt`.
    Either,
}

/// How a hash claim writes the SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashText {
    /// Lower- or upper-case hex.
    Hex,
    /// Standard base64 with its padding (FusionAuth's `request_body_sha256`).
    Base64,
}

impl HashText {
    /// The digest written this way, as `hookguard sign` puts it in a claim.
    pub(crate) fn encode(self, digest: &[u8]) -> String {
        match self {
            Self::Hex => hex::encode(digest),
            Self::Base64 => base64::engine::general_purpose::STANDARD.encode(digest),
        }
    }

    fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Self::Hex => hex::decode(text).ok(),
            Self::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Hex => "hex",
            Self::Base64 => "base64",
        }
    }
}

/// A claim holding the SHA-256 of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyHash {
    pub(crate) claim: &'static str,
    pub(crate) text: HashText,
    /// MessageBird: the claim is present exactly when the body is not empty.
    pub(crate) absent_when_empty: bool,
}

/// One JWT scheme, as catalog data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JwtSpec {
    pub(crate) token: TokenAt,
    /// Where the keys come from when they are configured. Schemes that
    /// fetch their keys (Pub/Sub, Plaid, Kinde) state it for the
    /// reader only: nothing reads it for a fetched set, so deleting it
    /// there is an equivalent mutant.
    pub(crate) keys: KeysFrom,
    /// Algorithms accepted at all (each key still accepts only its family's).
    pub(crate) algorithms: &'static [Algorithm],
    /// Required `iss`, compared exactly.
    pub(crate) issuer: Option<&'static str>,
    /// Whether `exp` must be present (it is checked whenever present).
    pub(crate) require_exp: bool,
    /// Whether `iat` must be present and within the tolerance both ways
    /// (otherwise an `iat` present must not lie beyond it in the future).
    pub(crate) iat_window: bool,
    pub(crate) body_hash: Option<BodyHash>,
    /// Claim with hex SHA-256 of the full URL the provider called.
    pub(crate) url_hash: Option<&'static str>,
    /// Whether `aud` names the endpoint the token was sent to (monday.com):
    /// checked against the route's `public_url` where it has one, so a token
    /// minted for another endpoint of the same app is refused here.
    pub(crate) aud_is_endpoint: bool,
    /// Signed claim naming the delivery (replay key and event id).
    pub(crate) id_claim: Option<&'static str>,
    /// Default window; `None` where the scheme signs no time at all.
    pub(crate) tolerance: Option<ToleranceSpec>,
}

impl JwtSpec {
    /// The starting point each scheme states its differences from: a token
    /// in `Authorization`, keyed with secrets, binding nothing and checking
    /// no claim (every check is opted into).
    pub(crate) const BASE: JwtSpec = JwtSpec {
        token: TokenAt::Header("authorization"),
        keys: KeysFrom::Secrets,
        algorithms: &[],
        issuer: None,
        require_exp: false,
        iat_window: false,
        body_hash: None,
        url_hash: None,
        aud_is_endpoint: false,
        id_claim: None,
        tolerance: None,
    };

    /// Whether the token binds this request (its body or URL) rather than
    /// only the sender: if not, it is a bearer credential that could be
    /// reused until it expires, so it is not forwarded and keys no replay.
    pub(crate) fn binds_request(&self) -> bool {
        self.body_hash.is_some() || self.url_hash.is_some() || self.token == TokenAt::Body
    }

    /// The row of `hookguard providers`.
    pub(crate) fn info(&self, name: &'static str) -> ProviderInfo {
        let algorithms: Vec<&str> = self.algorithms.iter().map(alg_name).collect();
        let headers = match self.token {
            TokenAt::Header(h) => format!("{h}: [Bearer ]<JWT>"),
            TokenAt::Body => "body: <JWT>".into(),
        };
        let mut signed = vec!["JWT claims".to_owned()];
        if let Some(iss) = self.issuer {
            signed.push(format!("iss={iss}"));
        }
        if let Some(h) = self.body_hash {
            signed.push(format!("{}=sha256{}({{body}})", h.claim, h.text.name()));
        }
        if let Some(h) = self.url_hash {
            signed.push(format!("{h}=sha256hex({{url}})"));
        }
        if self.aud_is_endpoint {
            signed.push("aud={public_url}".to_owned());
        }
        for (on, claim) in [
            (self.require_exp, "exp"),
            (self.iat_window, "iat"),
            (self.id_claim.is_some(), self.id_claim.unwrap_or("")),
        ] {
            if on {
                signed.push(claim.to_owned());
            }
        }
        ProviderInfo {
            name,
            algorithm: match self.keys {
                KeysFrom::Secrets => "JWT (HMAC)",
                KeysFrom::PublicKeys => "JWT (public key)",
                KeysFrom::Either => "JWT (HMAC or public key)",
            },
            headers: format!("{headers} ({})", algorithms.join("|")),
            signed: signed.join(", "),
            tolerance: super::common::tolerance_text(self.tolerance),
            ..ProviderInfo::default()
        }
    }
}

fn alg_name(alg: &Algorithm) -> &'static str {
    use Algorithm::*;
    match alg {
        HS256 => "HS256",
        HS384 => "HS384",
        HS512 => "HS512",
        ES256 => "ES256",
        ES384 => "ES384",
        RS256 => "RS256",
        RS384 => "RS384",
        RS512 => "RS512",
        PS256 => "PS256",
        PS384 => "PS384",
        PS512 => "PS512",
        EdDSA => "EdDSA",
    }
}

/// A built JWT verifier for one route.
pub(crate) struct JwtVerifier {
    provider: &'static str,
    spec: JwtSpec,
    header: Option<http::HeaderName>,
    keys: KeySet,
    /// The window; zero skew allowed where the scheme signs no time.
    tolerance: Option<Tolerance>,
    /// Required `aud`, compared exactly (the route's, where the scheme has one).
    audience: Option<String>,
    /// The provider's set-up handshake (monday.com's `challenge` POST).
    handshake: Handshake,
}

/// A token whose signature verified, with its claims.
pub(crate) struct Checked {
    index: usize,
    pub(crate) claims: Map<String, Value>,
    signing_input_sha256: digest::Digest,
}

impl Checked {
    /// The SHA-256 of the token's signing input: a replay key for schemes
    /// that sign no id (ECDSA signatures are malleable, what they sign is not).
    pub(crate) fn signing_input_sha256(&self) -> Vec<u8> {
        self.signing_input_sha256.as_ref().to_vec()
    }
}

impl JwtVerifier {
    /// Builds from a catalog entry and the route's keys.
    pub(crate) fn build(
        provider: &'static str,
        spec: &JwtSpec,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let keys = match spec.keys {
            KeysFrom::Secrets => {
                refuse_other(params.public_keys, "public_keys", provider, "secrets")?;
                require_some(params.secrets, "secrets", "no secret")?;
                KeySet::from_secrets(params.secrets)?
            }
            KeysFrom::PublicKeys => {
                refuse_other(params.secrets, "secrets", provider, "public_keys")?;
                require_some(params.public_keys, "public_keys", "no public key")?;
                KeySet::from_public_keys(params.public_keys)?
            }
            KeysFrom::Either => either_keys(params)?,
        };
        if let Some(family) = keys
            .families()
            .into_iter()
            .find(|f| !spec.algorithms.iter().any(|a| f.allows(*a)))
        {
            let allowed: Vec<&str> = spec.algorithms.iter().map(alg_name).collect();
            return Err(BuildError {
                field: "public_keys".into(),
                message: format!(
                    "provider {provider:?} signs with {}; an {} verifies none of them",
                    allowed.join("/"),
                    family.name()
                ),
            });
        }
        Self::assemble(provider, spec, keys, params.tolerance, None)
    }

    /// A verifier whose keys are fetched per request (a JWKS the caller
    /// passes to [`JwtVerifier::check`]), requiring `aud` = `audience`.
    pub(crate) fn fetched(
        provider: &'static str,
        spec: &JwtSpec,
        tolerance: Option<Duration>,
        audience: String,
    ) -> Result<Self, BuildError> {
        Self::assemble(provider, spec, KeySet::empty(), tolerance, Some(audience))
    }

    /// A verifier whose keys are fetched per request, for schemes whose
    /// tokens name no audience (Kinde): the caller checks what binds them.
    pub(crate) fn fetched_without_audience(
        provider: &'static str,
        spec: &JwtSpec,
        tolerance: Option<Duration>,
    ) -> Result<Self, BuildError> {
        Self::assemble(provider, spec, KeySet::empty(), tolerance, None)
    }

    /// The verifier of `spec` with `keys` (empty where they are fetched per
    /// request) and the route's `tolerance` over the scheme's default.
    fn assemble(
        provider: &'static str,
        spec: &JwtSpec,
        keys: KeySet,
        tolerance: Option<Duration>,
        audience: Option<String>,
    ) -> Result<Self, BuildError> {
        let header = match spec.token {
            TokenAt::Header(h) => Some(header_name("provider", h)?),
            TokenAt::Body => None,
        };
        Ok(Self {
            provider,
            spec: *spec,
            header,
            keys,
            tolerance: spec.tolerance.map(|t| Tolerance::new(t, tolerance)),
            audience,
            handshake: Handshake::None,
        })
    }

    /// The verifier answering the provider's set-up `handshake` too.
    pub(crate) fn with_handshake(self, handshake: Handshake) -> Self {
        Self { handshake, ..self }
    }

    /// The header the token travels in, if not the body.
    pub(crate) fn token_header_name(&self) -> Option<&http::HeaderName> {
        self.header.as_ref()
    }

    /// The `kid` of the request's token, once its `alg` is allowed.
    pub(crate) fn token_kid(&self, req: &Inbound<'_>) -> Result<Option<String>, Rejection> {
        self.kid_of(self.token(req, None)?)
    }

    /// The `kid` of `token` (one not taken from the request, like Graph's
    /// `validationTokens`), once its `alg` is allowed.
    pub(crate) fn kid_of(&self, token: &str) -> Result<Option<String>, Rejection> {
        Ok(self.token_header(token)?.kid)
    }

    /// The `kid` of a token that may be the body, once its `alg` is allowed.
    pub(crate) fn token_kid_in(
        &self,
        req: &Inbound<'_>,
        body: &Payload,
    ) -> Result<Option<String>, Rejection> {
        let contiguous = body.contiguous();
        let token = self.token(req, Some(&contiguous))?;
        Ok(self.token_header(token)?.kid)
    }

    /// The token text: the header's value without `Bearer `, or the body.
    fn token<'r>(
        &self,
        req: &'r Inbound<'_>,
        body: Option<&'r [u8]>,
    ) -> Result<&'r str, Rejection> {
        let raw = match (&self.header, body) {
            (Some(name), _) => {
                let value = header_bytes(req.headers, name)?;
                strip_prefix_ci(value, "bearer ")
                    .unwrap_or(value)
                    .trim_ascii()
            }
            (None, Some(body)) => {
                let body = body.trim_ascii();
                if body.is_empty() {
                    return Err(Rejection::MissingSignature {
                        detail: "the body (the token) is empty".into(),
                    });
                }
                if body.len() > MAX_BODY_TOKEN {
                    return Err(invalid("the body is too long for a token"));
                }
                body
            }
            (None, None) => return Ok(""),
        };
        std::str::from_utf8(raw).map_err(|_| invalid("the token is not text"))
    }

    /// The token's header, once its algorithm is on the allowlist.
    fn token_header(&self, token: &str) -> Result<Header, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            invalid("not a JWS compact token with a supported alg (none is never accepted)")
        })?;
        if !self.spec.algorithms.contains(&header.alg) {
            return Err(invalid(format!(
                "algorithm {} is not accepted for this provider",
                alg_name(&header.alg)
            )));
        }
        Ok(header)
    }

    /// Verifies the signature with the keys that may: right family, `kid`.
    fn check_signature(
        &self,
        keys: &KeySet,
        token: &str,
        now_ms: i64,
    ) -> Result<Checked, Rejection> {
        let header = self.token_header(token)?;
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let mut tried_any = false;
        for key in keys.candidates(header.alg, header.kid.as_deref(), now_ms) {
            tried_any = true;
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => {
                    let input = token.rsplit_once('.').map_or(token, |(input, _)| input);
                    return Ok(Checked {
                        index: key.index,
                        claims: data.claims,
                        signing_input_sha256: digest::digest(&digest::SHA256, input.as_bytes()),
                    });
                }
                Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {}
                Err(_) => return Err(invalid("malformed token")),
            }
        }
        let noun = match keys.families().first() {
            Some(KeyFamily::Hmac) => SECRET,
            _ => PUBLIC_KEY,
        };
        let mismatch = if !tried_any {
            format!(
                "no key for algorithm {}{}",
                alg_name(&header.alg),
                if header.kid.is_some() {
                    " and the token's kid"
                } else {
                    ""
                }
            )
        } else {
            "token signature does not verify".to_owned()
        };
        Err(Rejection::InvalidSignature {
            detail: no_match_detail(&mismatch, noun, keys.expiries(), now_ms, None),
        })
    }

    /// Every check of the token against `keys`: signature, `iss`, times,
    /// hash claims and `aud`; its claims when all pass.
    pub(crate) fn check(
        &self,
        keys: &KeySet,
        req: &Inbound<'_>,
        body: &Payload,
    ) -> Result<Checked, Rejection> {
        let contiguous;
        let body_bytes = if self.header.is_none() {
            contiguous = body.contiguous();
            Some(&contiguous[..])
        } else {
            None
        };
        let token = self.token(req, body_bytes)?;
        let checked = self.check_token(keys, token, req.now_ms)?;
        if self.header.is_some() {
            self.check_body_hash(&checked.claims, body)?;
        }
        self.check_url_hash(&checked.claims, req.public_url)?;
        if self.spec.aud_is_endpoint && !req.public_url.is_empty() {
            audience_is(&checked.claims, req.public_url)?;
        }
        Ok(checked)
    }

    /// The checks of one token that need nothing of the request: signature,
    /// `iss`, times and `aud`.
    pub(crate) fn check_token(
        &self,
        keys: &KeySet,
        token: &str,
        now_ms: i64,
    ) -> Result<Checked, Rejection> {
        let checked = self.check_signature(keys, token, now_ms)?;
        self.check_issuer(&checked.claims)?;
        self.check_times(&checked.claims, now_ms)?;
        self.check_audience(&checked.claims)?;
        Ok(checked)
    }

    /// `exp`, `nbf` (skew allowed: the tolerance) and `iat`.
    fn check_times(&self, claims: &Map<String, Value>, now_ms: i64) -> Result<(), Rejection> {
        let skew = self.tolerance.map_or(0, |t| t.window().as_secs());
        let skew = i64::try_from(skew).unwrap_or(i64::MAX);
        let now = now_ms.div_euclid(1000);
        let out = |detail: String| Rejection::TimestampOutOfTolerance { detail };
        match time_claim(claims, "exp")? {
            Some(exp) if now > exp.saturating_add(skew) => {
                return Err(out(format!("claim exp: token expired {} s ago", now - exp)))
            }
            None if self.spec.require_exp => {
                return Err(Rejection::MissingSignature {
                    detail: "claim exp is absent".into(),
                })
            }
            _ => {}
        }
        if let Some(nbf) = time_claim(claims, "nbf")? {
            if nbf.saturating_sub(skew) > now {
                return Err(out(format!(
                    "claim nbf: token valid only in {} s",
                    nbf - now
                )));
            }
        }
        match (time_claim(claims, "iat")?, &self.tolerance) {
            (Some(iat), Some(t)) if self.spec.iat_window => {
                t.check_ms(&"claim iat", iat.saturating_mul(1000), now_ms)?;
            }
            (Some(iat), _) if iat.saturating_sub(skew) > now => {
                return Err(out(format!(
                    "claim iat: issued {} s in the future",
                    iat - now
                )))
            }
            (None, _) if self.spec.iat_window => {
                return Err(Rejection::MissingSignature {
                    detail: "claim iat is absent".into(),
                })
            }
            _ => {}
        }
        Ok(())
    }

    /// `aud` = the route's audience, where it has one.
    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        match self.audience.as_deref() {
            Some(want) => audience_is(claims, want),
            None => Ok(()),
        }
    }

    fn check_issuer(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        let Some(want) = self.spec.issuer else {
            return Ok(());
        };
        match claims.get("iss").and_then(Value::as_str) {
            Some(iss) if iss == want => Ok(()),
            Some(_) => Err(invalid("claim iss names another issuer")),
            None => Err(invalid("claim iss is absent")),
        }
    }

    fn check_body_hash(
        &self,
        claims: &Map<String, Value>,
        body: &Payload,
    ) -> Result<(), Rejection> {
        let Some(rule) = self.spec.body_hash else {
            return Ok(());
        };
        let claim = claims.get(rule.claim);
        if rule.absent_when_empty && body.is_empty() {
            return match claim {
                None => Ok(()),
                Some(_) => Err(invalid(format!(
                    "claim {} is set but the body is empty",
                    rule.claim
                ))),
            };
        }
        let Some(claim) = claim else {
            return Err(invalid(format!(
                "claim {} is absent but the body is not empty",
                rule.claim
            )));
        };
        let mut ctx = digest::Context::new(&digest::SHA256);
        body.chunks().for_each(|c| ctx.update(c));
        hash_matches(rule.claim, claim, rule.text, ctx.finish().as_ref())
    }

    fn check_url_hash(&self, claims: &Map<String, Value>, url: &str) -> Result<(), Rejection> {
        let Some(name) = self.spec.url_hash else {
            return Ok(());
        };
        let claim = claims
            .get(name)
            .ok_or_else(|| invalid(format!("claim {name} is absent")))?;
        let want = digest::digest(&digest::SHA256, url.as_bytes());
        hash_matches(name, claim, HashText::Hex, want.as_ref())
    }
}

/// A hash claim against the computed digest, in constant time (lengths are
/// public: a SHA-256 is 32 bytes).
fn hash_matches(name: &str, claim: &Value, text: HashText, want: &[u8]) -> Result<(), Rejection> {
    match claim.as_str().and_then(|s| text.decode(s)) {
        Some(got) if bool::from(got.as_slice().ct_eq(want)) => Ok(()),
        Some(_) => Err(invalid(format!(
            "claim {name} does not match the received bytes"
        ))),
        None => Err(invalid(format!(
            "claim {name} is not a {} SHA-256",
            text.name()
        ))),
    }
}

/// A NumericDate claim: absent, or whole seconds (fractions are cut).
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Rejection::TimestampOutOfTolerance {
                detail: format!("claim {name} is not a NumericDate"),
            }),
    }
}

fn refuse_other(
    entries: &[super::SecretEntry],
    field: &str,
    provider: &str,
    right: &str,
) -> Result<(), BuildError> {
    if entries.is_empty() {
        return Ok(());
    }
    Err(BuildError {
        field: field.into(),
        message: format!("provider {provider:?} verifies with `{right}`, not `{field}`"),
    })
}

/// The generic scheme's keys: `secrets` (HMAC) or `public_keys`, never
/// both, so no configuration mixes the families a token could pick from.
fn either_keys(params: ProviderParams<'_>) -> Result<KeySet, BuildError> {
    match (params.secrets.is_empty(), params.public_keys.is_empty()) {
        (false, true) => KeySet::from_secrets(params.secrets),
        (true, false) => KeySet::from_public_keys(params.public_keys),
        (true, true) => Err(BuildError {
            field: "secrets".into(),
            message: "no secret or public key configured: the route would verify nothing".into(),
        }),
        (false, false) => Err(BuildError {
            field: "public_keys".into(),
            message: "set `secrets` (HS256/384/512) or `public_keys` (RS/PS/ES/EdDSA), not \
                      both: one route verifies one key family"
                .into(),
        }),
    }
}

/// `aud`: a string, or an array of strings (RFC 7519 §4.1.3), one of
/// which must equal `want` exactly.
fn audience_is(claims: &Map<String, Value>, want: &str) -> Result<(), Rejection> {
    let matches = match claims.get("aud") {
        None => return Err(invalid("claim aud is absent")),
        Some(Value::String(aud)) => aud == want,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want)),
        Some(_) => false,
    };
    if matches {
        Ok(())
    } else {
        Err(invalid("claim aud names another audience"))
    }
}

fn require_some(entries: &[super::SecretEntry], field: &str, what: &str) -> Result<(), BuildError> {
    if entries.is_empty() {
        return Err(BuildError {
            field: field.into(),
            message: format!("{what} configured: the route would verify nothing"),
        });
    }
    Ok(())
}

impl Verifier for JwtVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        self.tolerance.map(|t| t.window())
    }

    fn signs_url(&self) -> bool {
        self.spec.url_hash.is_some()
    }

    fn credential_header(&self) -> Option<&http::HeaderName> {
        self.header.as_ref().filter(|_| !self.spec.binds_request())
    }

    fn signed_url(&self, target: &UrlTarget<'_>) -> Result<String, Rejection> {
        if self.spec.url_hash.is_some() {
            return signed_url::resolve(target, None);
        }
        // The endpoint `aud` names: the configured URL only, never one
        // rebuilt from what the client sent.
        let endpoint = target.configured.filter(|_| self.spec.aud_is_endpoint);
        Ok(endpoint.unwrap_or_default().to_owned())
    }

    fn uses_public_url(&self) -> bool {
        self.spec.url_hash.is_some() || self.spec.aud_is_endpoint
    }

    fn public_url_warning(&self, public_url: Option<&str>) -> Option<String> {
        (self.spec.aud_is_endpoint && public_url.is_none()).then(|| {
            "no public_url: the token's aud (the endpoint it was minted for) is not checked, \
             so a token for another endpoint of the same app is accepted; set public_url"
                .to_owned()
        })
    }

    fn awaits_body_challenge(&self, req: &Inbound<'_>) -> bool {
        let signed = self
            .header
            .as_ref()
            .is_some_and(|h| req.headers.contains_key(h));
        self.handshake.awaits_body(req, signed)
    }

    fn body_challenge(
        &self,
        req: &Inbound<'_>,
        body: &Payload,
    ) -> Result<HandshakeReply, Rejection> {
        let _ = req;
        self.handshake.body_challenge(&body.contiguous())
    }

    fn handshake(&self, req: &Inbound<'_>, body: &Payload) -> Option<HandshakeReply> {
        if self.handshake == Handshake::None {
            return None; // no copy of the body for the schemes without one
        }
        self.handshake.handshake(req, &body.contiguous(), None)
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        if self.header.is_none() {
            return Ok(()); // the token is the body
        }
        let token = self.token(req, None)?;
        self.token_header(token).map(|_| ())
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let checked = self.check(&self.keys, req, body)?;
        let id = self
            .spec
            .id_claim
            .and_then(|c| checked.claims.get(c))
            .and_then(Value::as_str)
            .filter(|id| {
                !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic())
            });
        Ok(Verified {
            secret_index: checked.index,
            event_id: id.map(str::to_owned),
            dedup: match id {
                _ if !self.spec.binds_request() => Dedup::None,
                Some(id) => Dedup::SignedId(id.to_owned()),
                // ECDSA signatures are malleable: key on what was signed.
                None => Dedup::Signature(checked.signing_input_sha256.as_ref().to_vec()),
            },
        })
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "jwt_edge_tests.rs"]
mod edge_tests;
