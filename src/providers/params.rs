//! The parameters a verifier is built from, as values of this layer.
//!
//! `config` parses a route's TOML into these types and hands them to
//! [`build`](super::build); providers never see configuration syntax, and the
//! dependency runs one way (config → providers). The types carry only what a
//! scheme needs: resolved secret bytes with their expiry, and the shape of
//! the generic HMAC scheme.

use std::time::Duration;

use crate::secret::Secret;

/// Everything a route's configuration contributes to building its verifier.
/// `Default` (nothing set) is for tests; the configuration names every field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderParams<'a> {
    /// Resolved secrets, in configuration order (index = position).
    pub secrets: &'a [SecretEntry],
    /// Public keys for asymmetric schemes, as the provider's dashboard shows them.
    pub public_keys: &'a [SecretEntry],
    /// Route override of the provider's default tolerance.
    pub tolerance: Option<Duration>,
    /// `[route.hmac]` for the generic scheme.
    pub hmac: Option<&'a GenericHmac>,
    /// `verify_token` for challenge handshakes (Meta).
    pub verify_token: Option<&'a Secret>,
    /// `token_header`: the header the generic `token` provider reads.
    pub token_header: Option<&'a str>,
    /// `token_query`: the query parameter `azure-eventgrid` reads its key from.
    pub token_query: Option<&'a str>,
    /// `[route.keys]` and the settings of schemes whose keys are fetched;
    /// `None` when the route sets none of them.
    pub fetch: Option<&'a FetchParams>,
}

/// The route settings of schemes whose keys are fetched. Each is `None`
/// when not written, so that a provider that does not read one refuses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchParams {
    /// Whether the route has a `[route.keys]` table at all.
    pub keys: bool,
    /// `[route.keys] allow`: replaces the provider's pinned URL rule.
    pub allow: Option<Vec<super::UrlPrefix>>,
    /// `[route.keys] url`: a fixed key URL, for schemes that have one.
    pub url: Option<String>,
    /// `topics`: the SNS topic ARNs the route accepts.
    pub topics: Option<Vec<String>>,
    /// `sns_confirm`: who confirms an SNS subscription.
    pub sns_confirm: Option<SnsConfirm>,
    /// `webhook_id`: PayPal's id of the webhook this route receives.
    pub webhook_id: Option<String>,
    /// `audience`: the `aud` a Pub/Sub push token or an Event Grid Entra
    /// token must name.
    pub audience: Option<String>,
    /// `service_account`: the `email` a Pub/Sub push token must name.
    pub service_account: Option<String>,
    /// `app_id`: the app a Microsoft Graph `validationTokens` JWT is for.
    pub app_id: Option<String>,
    /// `tenant`: the Microsoft Entra tenant an Event Grid token is from.
    pub tenant: Option<String>,
    /// The route's `public_url`, not a setting of its own here: Pub/Sub's
    /// default audience.
    pub public_url: Option<String>,
    /// `[route.keys] client_id`: the API client id a key endpoint wants
    /// (Plaid); a secret reference, resolved.
    pub client_id: Option<Secret>,
    /// `[route.keys] client_secret`: that client's API secret.
    pub client_secret: Option<Secret>,
}

/// A provider-specific setting of [`FetchParams`], for
/// [`FetchParams::refuse_unread`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchSetting {
    Allow,
    Url,
    Topics,
    SnsConfirm,
    WebhookId,
    Audience,
    ServiceAccount,
    ClientCredentials,
    AppId,
    Tenant,
}

impl FetchParams {
    /// The route's settings for a provider that reads only `reads` (none
    /// written: the defaults), any other one refused at its field.
    pub(crate) fn read_by(
        route: Option<&FetchParams>,
        provider: &str,
        reads: &[FetchSetting],
    ) -> Result<FetchParams, super::BuildError> {
        let fetch = route.cloned().unwrap_or_default();
        fetch.refuse_unread(provider, reads)?;
        Ok(fetch)
    }

    /// Refuses, at its field, the first setting of the route that a
    /// provider reading only `reads` would ignore: a setting is applied or
    /// refused, never silently dropped. Each setting says whose it is once,
    /// here, so a new provider or setting is one row, not one more list.
    pub(crate) fn refuse_unread(
        &self,
        provider: &str,
        reads: &[FetchSetting],
    ) -> Result<(), super::BuildError> {
        use FetchSetting::*;
        let settings = [
            (
                Allow,
                self.allow.is_some(),
                "keys.allow",
                "the key URL is fixed: set keys.url",
            ),
            (
                Url,
                self.url.is_some(),
                "keys.url",
                "each request names its own certificate, checked against the pinned rule \
                 or keys.allow",
            ),
            (
                Topics,
                self.topics.is_some(),
                "topics",
                "topics are aws-sns's",
            ),
            (
                SnsConfirm,
                self.sns_confirm.is_some(),
                "sns_confirm",
                "sns_confirm is aws-sns's",
            ),
            (
                WebhookId,
                self.webhook_id.is_some(),
                "webhook_id",
                "webhook_id is paypal's",
            ),
            (
                Audience,
                self.audience.is_some(),
                "audience",
                "audience is gcp-pubsub's and azure-eventgrid's",
            ),
            (
                ServiceAccount,
                self.service_account.is_some(),
                "service_account",
                "service_account is gcp-pubsub's",
            ),
            (
                ClientCredentials,
                self.client_id.is_some(),
                "keys.client_id",
                "the key endpoint's credentials are plaid's",
            ),
            (
                ClientCredentials,
                self.client_secret.is_some(),
                "keys.client_secret",
                "the key endpoint's credentials are plaid's",
            ),
            (
                AppId,
                self.app_id.is_some(),
                "app_id",
                "app_id is microsoft-graph's",
            ),
            (
                Tenant,
                self.tenant.is_some(),
                "tenant",
                "tenant is azure-eventgrid's",
            ),
        ];
        let unread = settings
            .iter()
            .find(|(setting, set, ..)| *set && !reads.contains(setting));
        match unread {
            Some((_, _, field, why)) => Err(super::BuildError {
                field: (*field).into(),
                message: format!("provider {provider:?} does not read {field} ({why}); remove it"),
            }),
            None => Ok(()),
        }
    }
}

/// Who answers a verified SNS `SubscriptionConfirmation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsConfirm {
    /// Forward it to the app, which confirms (the default).
    Forward,
    /// hookguard GETs the `SubscribeURL` itself and answers 200.
    Auto,
}

/// One secret (or public key) of a route, resolved.
#[derive(Debug, Clone)]
pub struct SecretEntry {
    /// The resolved bytes (file contents with the trailing newline trimmed).
    pub value: Secret,
    /// After this instant (Unix seconds) the entry never verifies.
    pub expires: Option<i64>,
    /// Where it came from, for `check` and messages: `env:NAME`, `file:PATH`
    /// or `literal` — never the value.
    pub origin: String,
}

/// `[route.hmac]`: parameters of the generic HMAC scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericHmac {
    /// Hash function.
    pub algorithm: HmacAlgorithm,
    /// Header carrying the signature (lower-case); with `headers`, the first.
    pub header: String,
    /// The other headers of `headers`, tried in order when no earlier one
    /// is present (Gitea's `X-Gitea-Signature`, then Gogs' `X-Gogs-Signature`).
    pub fallback_headers: Vec<String>,
    /// Optional prefix stripped before decoding, e.g. `sha256=`.
    pub prefix: Option<String>,
    /// How the signature bytes are encoded.
    pub encoding: SignatureEncoding,
    /// Header with a signed timestamp (enables the tolerance check).
    pub timestamp_header: Option<String>,
    /// How that timestamp is written; `None`: Unix seconds or RFC 3339.
    pub timestamp_format: Option<HmacTimestampFormat>,
    /// Header with an event id (used for de-duplication only when signed).
    pub id_header: Option<String>,
    /// Template of the signed bytes; `{timestamp}`, `{id}`, `{body}`.
    pub signed: String,
    /// How each secret's text becomes the HMAC key.
    pub key_encoding: HmacKeyEncoding,
    /// Text removed from the start of each secret before decoding, when
    /// present (`whsec_`).
    pub key_prefix: Option<String>,
    /// Keys of the signatures in a `k=v` signature header (`["v1"]`);
    /// empty: the header holds one signature.
    pub signature_keys: Vec<String>,
    /// Key of the signed timestamp in that header (`t`).
    pub timestamp_key: Option<String>,
    /// Between its pairs: `,`, `;` or ` `; `None`: `,`.
    pub pair_separator: Option<u8>,
    /// An HMAC keyed with the secret, or a plain digest of a template that
    /// names `{secret}` (Cloudinary).
    pub mode: HmacMode,
}

/// How the secret enters the signature, as `[route.hmac] mode` states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HmacMode {
    /// HMAC keyed with the secret (almost every provider).
    #[default]
    Hmac,
    /// A plain digest of the template, which holds `{secret}` once
    /// (Cloudinary's `sha1(body || timestamp || api_secret)`).
    Hash,
}

/// How a signed timestamp header is written, as `[route.hmac]
/// timestamp_format` states it (never guessed per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacTimestampFormat {
    /// Decimal Unix seconds.
    Unix,
    /// Decimal Unix milliseconds (Webflow, Front, Airwallex).
    UnixMs,
    /// An RFC 3339 date-time with its offset.
    Rfc3339,
    /// An ISO 8601 date-time without a zone, read as UTC (Orb).
    Iso8601Naive,
}

/// How a secret's text becomes an HMAC key: its own bytes, or the bytes
/// its hex or base64 text decodes to (Microsoft Teams, Onfleet, Airtable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacKeyEncoding {
    /// The secret's UTF-8 bytes (most providers).
    Utf8,
    /// Hexadecimal text, either case.
    Hex,
    /// Standard base64, padding optional.
    Base64,
}

/// HMAC hash functions the schemes use (and the generic scheme offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    /// HMAC-MD5 (Patreon only; not on ring, see `keys.rs`).
    Md5,
    /// HMAC-SHA1 (legacy providers only).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// Text encodings of signature bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Hexadecimal (either case accepted).
    Hex,
    /// Standard base64 with padding.
    Base64,
}
