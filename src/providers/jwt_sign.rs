//! `hookguard sign` for the JWT schemes keyed with a secret: a token with
//! the claims the scheme checks, signed HS256 with `jsonwebtoken`.

use jsonwebtoken::{Algorithm, Header};
use ring::digest;
use serde_json::Map;

use super::jwt::{JwtSpec, KeysFrom, TokenAt};
use super::{BuildError, SignRequest};

/// The headers `hookguard sign` prints for an HMAC-keyed JWT scheme: a
/// token with the claims the scheme checks, signed HS256 with `secret`.
pub(crate) fn sign(
    spec: &JwtSpec,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let TokenAt::Header(header) = spec.token else {
        return Err(sign_error(
            "the token is the body; sign it with a JWT library",
        ));
    };
    if spec.keys == KeysFrom::PublicKeys {
        return Err(sign_error("signing needs the provider's private key"));
    }
    let mut claims = Map::new();
    if let Some(iss) = spec.issuer {
        claims.insert("iss".into(), iss.into());
    }
    let ts = req.timestamp;
    claims.insert("iat".into(), ts.into());
    claims.insert("nbf".into(), ts.into());
    if spec.require_exp {
        claims.insert("exp".into(), (ts + 60).into());
    }
    if let Some(c) = spec.id_claim {
        let id = req
            .id
            .map_or_else(|| super::common::default_id(ts), str::to_owned);
        claims.insert(c.into(), id.into());
    }
    if let Some(h) = spec.body_hash {
        if !(h.absent_when_empty && req.body.is_empty()) {
            let sum = digest::digest(&digest::SHA256, req.body);
            claims.insert(h.claim.into(), h.text.encode(sum.as_ref()).into());
        }
    }
    if spec.aud_is_endpoint {
        if let Some(url) = req.url {
            claims.insert("aud".into(), url.into());
        }
    }
    if let Some(c) = spec.url_hash {
        let url = req
            .url
            .ok_or_else(|| sign_error("this scheme signs the URL: give --url"))?;
        claims.insert(
            c.into(),
            hex::encode(digest::digest(&digest::SHA256, url.as_bytes())).into(),
        );
    }
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .map_err(|_| sign_error("could not sign the token"))?;
    let value = if header == "authorization" {
        format!("Bearer {token}")
    } else {
        token
    };
    Ok(vec![(header.to_owned(), value)])
}

fn sign_error(message: &str) -> BuildError {
    BuildError {
        field: "provider".into(),
        message: message.into(),
    }
}
