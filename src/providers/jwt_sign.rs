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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::Value;

    use super::super::{sign, SignRequest};

    /// The claims of the token `sign` gives `provider` for `body`, and its
    /// header's value without the token.
    fn signed(provider: &str, body: &[u8]) -> (Value, String) {
        let req = SignRequest {
            body,
            timestamp: 1_700_000_000,
            id: Some("evt_1"),
            url: Some("https://example.com/hook"),
            method: "POST",
        };
        let out = sign(provider, b"secret-of-32-bytes-for-hs256-ok!", &req).unwrap();
        let value = &out[0].1;
        let token = value.rsplit(' ').next().unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let prefix = value.strip_suffix(token).unwrap().to_owned();
        (serde_json::from_slice(&json).unwrap(), prefix)
    }

    #[test]
    fn claims_and_header_as_each_scheme_sends_them() {
        // The generic `jwt`: Authorization with `Bearer `, exp a minute on.
        let (claims, prefix) = signed("jwt", b"{}");
        assert_eq!(prefix, "Bearer ");
        assert_eq!(claims["exp"], 1_700_000_060);
        assert_eq!(claims["iat"], 1_700_000_000);
        // MessageBird: its own header, the bare token; payload_hash exactly
        // when there is a body.
        let (claims, prefix) = signed("messagebird", b"{}");
        assert_eq!(prefix, "");
        assert!(claims["payload_hash"].is_string(), "{claims}");
        let (claims, _) = signed("messagebird", b"");
        assert!(claims.get("payload_hash").is_none(), "{claims}");
    }
}
