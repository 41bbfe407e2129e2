//! Adyen standard notifications: an HMAC per notification item, inside the
//! JSON body (`notificationItems[].NotificationRequestItem.additionalData.hmacSignature`).
//!
//! Owns reading the items (serde derive over the bounded, buffered body, so a
//! repeated signed field is an error rather than a silent last-one-wins), the
//! signed string of one item and `hookguard sign` for it. Every item must
//! verify: Adyen's own SDKs check only the first, which would let anyone
//! append unsigned items to a genuine batch. Adyen's newer webhooks that sign
//! the raw body into the `HmacSignature` header are the `adyen-banking`
//! preset of the `hmac` family, not this file.
//!
//! Facts (Adyen/adyen-python-api-library `Adyen/util.py`
//! `generate_notification_sig`, `is_valid_hmac_notification`): the key is
//! the hex-decoded HMAC key; the message is `pspReference:originalReference:
//! merchantAccountCode:merchantReference:value:currency:eventCode:success`,
//! value and currency taken from `amount`, absent fields empty; the
//! signature is base64 HMAC-SHA256.

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::common::invalid;
use super::common::{decode_signature, Signed, SignedBody};
use super::hmac::BODY;
use super::keys::{match_one, KeyDecoding, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, HmacKeyEncoding, Inbound, ProviderInfo, ProviderParams,
    Rejection, SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// Most items one notification may carry: bounds the HMAC work of a request
/// (Adyen sends at most a few per batch).
const MAX_ITEMS: usize = 100;

/// The row of `hookguard providers` for Adyen.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "HMAC-SHA256 (hex key)",
        headers: "none: body JSON notificationItems[].NotificationRequestItem.additionalData.hmacSignature: <base64>, every item".into(),
        signed: "{pspReference}:{originalReference}:{merchantAccountCode}:{merchantReference}:{amount.value}:{amount.currency}:{eventCode}:{success}, per item".into(),
        tolerance: "none".into(),
        ..ProviderInfo::default()
    }
}

/// The notification envelope; unknown fields (`live`) are skipped.
#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "notificationItems")]
    items: Option<Vec<Wrapper>>,
}

#[derive(Deserialize)]
struct Wrapper {
    #[serde(rename = "NotificationRequestItem")]
    item: Option<Item>,
}

/// The signed fields of one item, as JSON values (Adyen writes strings,
/// but the amount's value is a number).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    psp_reference: Option<Value>,
    original_reference: Option<Value>,
    merchant_account_code: Option<Value>,
    merchant_reference: Option<Value>,
    amount: Option<Amount>,
    event_code: Option<Value>,
    success: Option<Value>,
    additional_data: Option<AdditionalData>,
}

#[derive(Deserialize)]
struct Amount {
    value: Option<Value>,
    currency: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdditionalData {
    hmac_signature: Option<String>,
}

/// One field as it enters the signed string: text as is, a number in its
/// JSON spelling, a boolean as `true`/`false`, absent or null empty.
fn field_text<'v>(value: Option<&'v Value>, name: &str) -> Result<Cow<'v, str>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(Cow::Borrowed("")),
        Some(Value::String(s)) => Ok(Cow::Borrowed(s)),
        Some(Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
        Some(Value::Bool(b)) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
        Some(_) => Err(invalid(format!("item field {name:?} is not a scalar"))),
    }
}

impl Item {
    /// The string Adyen signs for this item.
    fn signed_string(&self) -> Result<String, Rejection> {
        let amount = self.amount.as_ref();
        let fields = [
            ("pspReference", self.psp_reference.as_ref()),
            ("originalReference", self.original_reference.as_ref()),
            ("merchantAccountCode", self.merchant_account_code.as_ref()),
            ("merchantReference", self.merchant_reference.as_ref()),
            ("amount.value", amount.and_then(|a| a.value.as_ref())),
            ("amount.currency", amount.and_then(|a| a.currency.as_ref())),
            ("eventCode", self.event_code.as_ref()),
            ("success", self.success.as_ref()),
        ];
        let mut out = String::new();
        for (i, (name, value)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            out.push_str(&field_text(value, name)?);
        }
        Ok(out)
    }

    fn signature(&self, index: usize) -> Result<&str, Rejection> {
        self.additional_data
            .as_ref()
            .and_then(|d| d.hmac_signature.as_deref())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Rejection::MissingSignature {
                detail: format!(
                    "body field \"notificationItems[{index}].NotificationRequestItem.additionalData.hmacSignature\" is absent"
                ),
            })
    }
}

/// Reads the items; an empty or oversized batch signs nothing usable.
fn items(body: &[u8]) -> Result<Vec<Item>, Rejection> {
    // A repeated or mistyped field is a data error: refused, as the app's
    // parser might read the other copy.
    let note: Notification = serde_json::from_slice(body).map_err(|e| {
        invalid(if e.is_data() {
            "body JSON does not have the shape of an Adyen notification"
        } else {
            "body is not valid JSON"
        })
    })?;
    let missing = |what: &str| Rejection::MissingSignature {
        detail: format!("body field {what:?} is absent or empty"),
    };
    let wrappers = note.items.unwrap_or_default();
    if wrappers.len() > MAX_ITEMS {
        return Err(invalid(format!(
            "{} notification items, more than the {MAX_ITEMS} accepted",
            wrappers.len()
        )));
    }
    if wrappers.is_empty() {
        return Err(missing("notificationItems"));
    }
    wrappers
        .into_iter()
        .enumerate()
        .map(|(n, w)| {
            w.item
                .ok_or_else(|| missing(&format!("notificationItems[{n}].NotificationRequestItem")))
        })
        .collect()
}

/// A built Adyen verifier.
pub(crate) struct AdyenVerifier {
    provider: &'static str,
    keys: KeyRing,
}

impl AdyenVerifier {
    /// Builds from the route's secrets: Adyen HMAC keys, hex text.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            keys: KeyRing::build(params.secrets, HmacAlgorithm::Sha256, hex_key)?,
        })
    }
}

/// An Adyen HMAC key as Adyen shows it (64 hex digits) to key bytes.
fn hex_key(secret: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    KeyDecoding::new(HmacKeyEncoding::Hex)
        .key(secret)
        .map_err(|_| {
            "Adyen HMAC keys are hex text (as the Customer Area shows them); this secret is not hex"
                .into()
        })
}

impl Verifier for AdyenVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    /// Adyen marks a standard notification delivered on `[accepted]` in the
    /// answer (its API reference, `NotificationResponse`; newer accounts
    /// take any 2xx), and retries otherwise: hookguard's own answers (a
    /// duplicate, a queued request) carry it.
    fn acknowledgement(&self) -> Option<&'static str> {
        Some("[accepted]")
    }

    fn tolerance(&self) -> Option<Duration> {
        None
    }

    /// Nothing in the head: the signatures are in the body.
    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(())
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let items = items(&body.contiguous())?;
        let mut strings = Vec::with_capacity(items.len());
        let mut first_index = None;
        for (n, item) in items.iter().enumerate() {
            let sig = decode_signature(
                item.signature(n)?.as_bytes(),
                SignatureEncoding::Base64,
                self.keys.tag_len(),
            )
            .map_err(|why| invalid(format!("item {n}: hmacSignature: {why}")))?;
            let signed = item.signed_string()?;
            let msg = Signed::new(BODY, SignedBody::Slice(signed.as_bytes()), &[], &[]);
            let index = match_one(&self.keys, req.now_ms, &msg, &sig)
                .map_err(|e| invalid(format!("item {n} of {}: {}", items.len(), e.detail())))?;
            first_index.get_or_insert(index);
            strings.push(signed);
        }
        let event_id = match items.as_slice() {
            [only] => field_text(only.psp_reference.as_ref(), "pspReference")?
                .into_owned()
                .into(),
            _ => None,
        }
        .filter(|id: &String| !id.is_empty());
        Ok(Verified {
            secret_index: first_index.unwrap_or(0),
            event_id,
            dedup: Dedup::Signature(batch_digest(&mut strings)),
        })
    }
}

/// A SHA-256 over the items' signed strings, sorted and length-prefixed: a
/// function of the signed content alone, whatever unsigned fields or item
/// order a replayer changes.
fn batch_digest(strings: &mut [String]) -> Vec<u8> {
    strings.sort_unstable();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for s in strings.iter() {
        ctx.update(&(s.len() as u64).to_be_bytes());
        ctx.update(s.as_bytes());
    }
    ctx.finish().as_ref().to_vec()
}

/// `hookguard sign` for Adyen: the `hmacSignature` of each item of the
/// notification in `req.body`, one `(field, value)` pair per item, keyed
/// with the hex HMAC key `secret`.
pub(crate) fn sign(
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let key = hex_key(secret).map_err(|message| BuildError {
        field: "secret".into(),
        message,
    })?;
    let items = items(req.body).map_err(|e| BuildError {
        field: "body".into(),
        message: e.detail().to_owned(),
    })?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let signed = item.signed_string().map_err(|e| BuildError {
                field: "body".into(),
                message: e.detail().to_owned(),
            })?;
            let tag = ring::hmac::sign(&key, signed.as_bytes());
            Ok((
                format!(
                    "notificationItems[{n}].NotificationRequestItem.additionalData.hmacSignature"
                ),
                base64::engine::general_purpose::STANDARD.encode(tag.as_ref()),
            ))
        })
        .collect()
}

#[cfg(test)]
#[path = "adyen_tests.rs"]
mod tests;
