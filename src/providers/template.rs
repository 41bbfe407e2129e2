//! Signed-message templates: the pieces a provider's message is made of
//! ([`Part`]) and one request's message as borrowed pieces ([`Signed`]),
//! fed to a MAC a frame of the body at a time, never joined into a copy.
//!
//! Owns the request values a template may name besides the body, timestamp
//! and id (`{method}`, `{url}`, `{path}`, `{query}`, `{header:Name}`,
//! `{body_sha256_hex}`), as [`RequestValues`]. Does not own parsing
//! templates from configuration (`generic.rs`), the rule that they split one
//! way (`delimit.rs`), nor reading the values from a request (the families).

use std::borrow::Cow;

use http::HeaderMap;

use super::common::MAX_PARTS;
use crate::body::Payload;

/// One piece of a signed message: the data families assemble what a provider
/// signs from, so a new provider is a table entry, not code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// The raw request body.
    Body,
    /// The signed timestamp exactly as received.
    Timestamp,
    /// The signed id exactly as received.
    Id,
    /// Fixed bytes, e.g. `"v0:"` or `"."`.
    Literal(Cow<'static, str>),
    /// The request method, e.g. `POST`.
    Method,
    /// The public URL the provider called (see `signed_url.rs`).
    Url,
    /// The request path as received.
    Path,
    /// The query as received, without `?`; empty when there is none.
    Query,
    /// The value of the request header of this (lower-case) name, which
    /// must be present exactly once.
    Header(Cow<'static, str>),
    /// The body's SHA-256 as 64 lower-case hex digits.
    BodySha256Hex,
    /// The body's form fields (`application/x-www-form-urlencoded`),
    /// decoded, sorted by name, each name followed by its value, with no
    /// separators: Twilio's and Mandrill's layout (see [`sorted_form`]).
    Form,
    /// The secret itself, in the plain-hash mode only (Cloudinary hashes
    /// `body || timestamp || api_secret`): a fixed value, never read from
    /// the request, so it needs no separator.
    Secret,
}

impl Part {
    /// Whether this piece stands for the body (itself or its hash): a
    /// template covers the body through exactly one of them.
    pub(crate) fn covers_body(&self) -> bool {
        matches!(self, Self::Body | Self::BodySha256Hex | Self::Form)
    }

    /// Whether this piece is read from the request line or a header named
    /// in the template, values whose separators `delimit.rs` checks.
    pub(crate) fn is_request_value(&self) -> bool {
        matches!(
            self,
            Self::Method | Self::Url | Self::Path | Self::Query | Self::Header(_)
        )
    }
}

/// Renders a template the way `hookguard providers` shows it.
pub(crate) fn render_template(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Body => Cow::Borrowed("{body}"),
            Part::Timestamp => Cow::Borrowed("{timestamp}"),
            Part::Id => Cow::Borrowed("{id}"),
            Part::Literal(s) => Cow::Borrowed(s.as_ref()),
            Part::Method => Cow::Borrowed("{method}"),
            Part::Url => Cow::Borrowed("{url}"),
            Part::Path => Cow::Borrowed("{path}"),
            Part::Query => Cow::Borrowed("{query}"),
            Part::Header(name) => Cow::Owned(format!("{{header:{name}}}")),
            Part::BodySha256Hex => Cow::Borrowed("{body_sha256_hex}"),
            Part::Form => Cow::Borrowed("{form}"),
            Part::Secret => Cow::Borrowed("{secret}"),
        })
        .collect()
}

/// The body a message signs: the received frames, or one slice (the signing
/// tools, and messages a scheme builds from parsed fields).
#[derive(Clone, Copy)]
pub(crate) enum SignedBody<'a> {
    /// The request body as it arrived.
    Received(&'a Payload),
    /// Bytes already in one piece.
    Slice(&'a [u8]),
}

/// The request values a template may name besides body, timestamp and id;
/// empty for the schemes that name none (all presets).
#[derive(Clone, Copy, Default)]
pub(crate) struct RequestValues<'a> {
    /// The request method.
    pub(crate) method: &'a str,
    /// The public URL the provider called.
    pub(crate) url: &'a str,
    /// The path as received.
    pub(crate) path: &'a str,
    /// The query as received, without `?`.
    pub(crate) query: &'a str,
    /// The request headers, for `{header:Name}` (checked present before).
    pub(crate) headers: Option<&'a HeaderMap>,
    /// The body's SHA-256 in lower-case hex, when the template names it.
    pub(crate) body_sha256_hex: &'a [u8],
    /// The body's sorted form fields, when the template names `{form}`.
    pub(crate) form: &'a [u8],
}

impl RequestValues<'_> {
    /// The bytes `part` stands for, for the request-value parts.
    pub(crate) fn value(&self, part: &Part) -> &[u8] {
        match part {
            Part::Method => self.method.as_bytes(),
            Part::Url => self.url.as_bytes(),
            Part::Path => self.path.as_bytes(),
            Part::Query => self.query.as_bytes(),
            Part::Header(name) => self
                .headers
                .and_then(|h| h.get(name.as_ref()))
                .map_or(&[][..], |v| v.as_bytes()),
            Part::BodySha256Hex => self.body_sha256_hex,
            Part::Form => self.form,
            Part::Body | Part::Timestamp | Part::Id | Part::Literal(_) | Part::Secret => &[],
        }
    }
}

/// The message of one request, as borrowed pieces (no copy of the body).
pub(crate) struct Signed<'a> {
    template: &'a [Part],
    body: SignedBody<'a>,
    timestamp: &'a [u8],
    id: &'a [u8],
    request: RequestValues<'a>,
}

impl<'a> Signed<'a> {
    /// Resolves `template` against this request's values. Callers guarantee
    /// that `timestamp`/`id` are present when the template uses them (checked
    /// at build, like the template's length, at most [`MAX_PARTS`]).
    pub(crate) fn new(
        template: &'a [Part],
        body: SignedBody<'a>,
        timestamp: &'a [u8],
        id: &'a [u8],
    ) -> Self {
        Self {
            template: &template[..template.len().min(MAX_PARTS)],
            body,
            timestamp,
            id,
            request: RequestValues::default(),
        }
    }

    /// The same message with the request values its template names.
    pub(crate) fn with_request(mut self, request: RequestValues<'a>) -> Self {
        self.request = request;
        self
    }

    /// Feeds the message to `update` in order, a frame of the body at a time.
    pub(crate) fn feed(&self, update: impl FnMut(&[u8])) {
        self.feed_keyed(&[], update);
    }

    /// The same, with `secret` where the template names `{secret}` (the
    /// plain-hash mode; every other scheme keys its MAC instead).
    pub(crate) fn feed_keyed(&self, secret: &[u8], mut update: impl FnMut(&[u8])) {
        for part in self.template {
            match part {
                Part::Body => match self.body {
                    SignedBody::Received(payload) => payload.chunks().for_each(&mut update),
                    SignedBody::Slice(bytes) => update(bytes),
                },
                Part::Timestamp => update(self.timestamp),
                Part::Id => update(self.id),
                Part::Literal(s) => update(s.as_bytes()),
                Part::Secret => update(secret),
                other => update(self.request.value(other)),
            }
        }
    }

    /// SHA-256 of the message: a replay key that depends only on what was
    /// signed, for schemes where the signature itself cannot be one (see
    /// [`super::Dedup::Signature`]). One more pass over the body.
    pub(crate) fn sha256(&self) -> ring::digest::Digest {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        self.feed(|piece| ctx.update(piece));
        ctx.finish()
    }
}

/// The body's SHA-256 in lower-case hex (`{body_sha256_hex}`), read from the
/// frames as they arrived.
pub(crate) fn body_sha256_hex(body: SignedBody<'_>) -> [u8; 64] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    match body {
        SignedBody::Received(payload) => payload.chunks().for_each(|c| ctx.update(c)),
        SignedBody::Slice(bytes) => ctx.update(bytes),
    }
    let mut out = [0u8; 64];
    // 32 bytes always encode to 64 hex digits.
    let _ = hex::encode_to_slice(ctx.finish().as_ref(), &mut out);
    out
}

/// The body's form fields, percent-decoded, sorted by name (then value),
/// each name directly followed by its value (`{form}`; Twilio's and
/// Mandrill's layout). Different encodings or orders of the same fields
/// give the same bytes, so a request re-encoded that way keeps its
/// signature: de-duplication keys on the signature, which such a copy
/// repeats.
pub(crate) fn sorted_form(body: &[u8]) -> Vec<u8> {
    let mut fields: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(body).collect();
    fields.sort();
    let mut out = Vec::with_capacity(body.len());
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}
