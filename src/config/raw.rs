//! The configuration file's shape, exactly as written: serde structs that keep
//! every value's span (`spanned::Spanned`) so validation can point at it.
//!
//! Nothing here checks meaning: every key is optional (validation reports a
//! missing required key, so that several can be reported at once), strings
//! stay strings. No `flatten` and no untagged enums, which would lose spans;
//! the one place the configuration allows two forms — a secret entry, a string or a
//! `{ value, expires }` table — has a hand-written `Deserialize`. Secret text
//! is never echoed by a type error and these types have no `Debug`.

use std::fmt;

use super::spanned::Spanned;
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as DeriveDeserialize;

/// A spanned optional string, the most common raw field.
pub(crate) type Str = Option<Spanned<String>>;

/// The whole file.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub server: Option<RawServer>,
    pub admin: Option<Spanned<RawAdmin>>,
    pub upstream: Option<Spanned<RawUpstream>>,
    pub replay: Option<RawReplay>,
    pub log: Option<RawLog>,
    pub spool: Option<RawSpool>,
    pub security: Option<RawSecurity>,
    pub route: Option<Vec<Spanned<RawRoute>>>,
    pub receipt: Option<Spanned<RawReceipt>>,
}

/// `[server]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub listen: Str,
    pub tls: Option<Spanned<RawTls>>,
    pub max_body: Option<Spanned<SizeText>>,
    pub trusted_proxies: Option<Vec<Spanned<String>>>,
    pub request_timeout: Option<Spanned<DurationText>>,
    pub shutdown_grace: Option<Spanned<DurationText>>,
    pub max_connections: Option<Spanned<i64>>,
    pub idle_timeout: Option<Spanned<DurationText>>,
    pub max_buffered: Option<Spanned<SizeText>>,
    pub max_buffered_per_connection: Option<Spanned<SizeText>>,
    pub max_concurrent_streams: Option<Spanned<i64>>,
    pub proxy_protocol: Str,
    pub ip_presets: Str,
}

/// `[server] tls = { cert, key }`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub cert: Str,
    pub key: Str,
}

/// `[admin]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub listen: Str,
    pub token: Option<Spanned<SecretText>>,
    pub recent: Option<Spanned<i64>>,
    pub hosts: Option<Vec<Spanned<String>>>,
}

/// `[upstream]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub url: Str,
    pub timeout: Option<Spanned<DurationText>>,
    pub ca: Str,
}

/// `[replay]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplay {
    pub store: Str,
    pub ttl: Option<Spanned<DurationText>>,
    pub max_entries: Option<Spanned<i64>>,
    pub on_store_error: Str,
}

/// `[security]`: suspicious-source detection.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecurity {
    pub failure_threshold: Option<Spanned<i64>>,
    pub window: Option<Spanned<DurationText>>,
    pub auto_block: Option<Spanned<DurationText>>,
    pub max_tracked_ips: Option<Spanned<i64>>,
}

/// `[log]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub format: Str,
    pub audit: Option<Spanned<bool>>,
}

/// `[spool]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpool {
    pub dir: Str,
    pub max_size: Option<Spanned<SizeText>>,
}

/// `[receipt]`: the signature hookguard adds to what it forwards.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReceipt {
    pub secret: Option<Spanned<SecretList>>,
    pub ed25519_key: Option<Spanned<SecretText>>,
}

/// One `[[route]]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub path: Str,
    pub provider: Str,
    pub secrets: Option<Spanned<SecretList>>,
    pub public_key: Option<Spanned<RawSecret>>,
    pub public_keys: Option<Spanned<SecretList>>,
    pub upstream: Str,
    pub tolerance: Option<Spanned<DurationText>>,
    pub max_body: Option<Spanned<SizeText>>,
    pub allow_ips: Option<Vec<Spanned<String>>>,
    pub rate_limit: Option<Spanned<RawRateLimit>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub delivery: Str,
    pub retry: Option<Spanned<RawRetry>>,
    pub ordered: Option<Spanned<bool>>,
    pub public_url: Str,
    pub verify_token: Option<Spanned<SecretText>>,
    pub token_header: Str,
    pub forward_token: Option<Spanned<bool>>,
    pub hmac: Option<Spanned<RawHmac>>,
    pub token_query: Str,
    pub cloudevents_handshake: Option<Spanned<bool>>,
    pub keys: Option<Spanned<RawKeys>>,
    pub topics: Option<Spanned<Vec<Spanned<String>>>>,
    pub sns_confirm: Str,
    pub webhook_id: Str,
    pub audience: Str,
    pub service_account: Str,
    pub receipt: Option<Spanned<bool>>,
    pub app_id: Str,
    pub tenant: Str,
}

/// `[route.keys]`: where a route's fetched keys may come from.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeys {
    pub allow: Option<Spanned<Vec<Spanned<String>>>>,
    pub url: Str,
    pub ca: Str,
    pub client_id: Option<Spanned<SecretText>>,
    pub client_secret: Option<Spanned<SecretText>>,
}

/// `rate_limit = { per_second, burst }`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimit {
    pub per_second: Option<Spanned<i64>>,
    pub burst: Option<Spanned<i64>>,
}

/// `retry = { base, cap, max_attempts, max_age }`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub base: Option<Spanned<DurationText>>,
    pub cap: Option<Spanned<DurationText>>,
    pub max_attempts: Option<Spanned<i64>>,
    pub max_age: Option<Spanned<DurationText>>,
}

/// `[route.hmac]`.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHmac {
    pub algorithm: Str,
    pub header: Str,
    pub headers: Option<Spanned<Vec<Spanned<String>>>>,
    pub prefix: Str,
    pub encoding: Str,
    pub timestamp_header: Str,
    pub timestamp_format: Str,
    pub id_header: Str,
    pub signed: Str,
    pub key_encoding: Str,
    pub key_prefix: Str,
    pub signature_keys: Option<Spanned<Vec<Spanned<String>>>>,
    pub timestamp_key: Str,
    pub pair_separator: Str,
    pub mode: Str,
}

// === Strings with a better type error ===

/// Defines a string newtype whose type error says what kind of string is
/// wanted (`expected a duration such as "30s"`) instead of just "a string".
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $expecting:literal, $echo:literal) => {
        $(#[$doc])*
        pub(crate) struct $name(pub String);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(TextVisitor { expecting: $expecting, echo: $echo })
                    .map($name)
            }
        }
    };
}

text_type!(
    /// A duration string, parsed by `units::parse_duration`.
    DurationText,
    "a duration string such as \"30s\" (units ms, s, m, h, d)",
    true
);
text_type!(
    /// A size string, parsed by `units::parse_size`.
    SizeText,
    "a size string such as \"1MiB\" (units B, KiB, MiB, GiB)",
    true
);
text_type!(
    /// A secret reference (`env:NAME`, `file:PATH` or a literal).
    SecretText,
    "a string: env:NAME, file:PATH or a literal",
    false
);

/// Accepts a string; anything else is an error that names the wanted form and
/// (unless `echo` is false, for secrets) the value found.
struct TextVisitor {
    expecting: &'static str,
    echo: bool,
}

impl TextVisitor {
    fn wrong<E: de::Error>(&self, found: de::Unexpected<'_>, kind: &str) -> E {
        if self.echo {
            E::invalid_type(found, self)
        } else {
            E::custom(format!("invalid type: {kind}, expected {}", self.expecting))
        }
    }
}

impl<'de> Visitor<'de> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Err(self.wrong(de::Unexpected::Bool(v), "boolean"))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Err(self.wrong(de::Unexpected::Signed(v), "integer"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Err(self.wrong(de::Unexpected::Unsigned(v), "integer"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Err(self.wrong(de::Unexpected::Float(v), "float"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.wrong(de::Unexpected::Seq, "array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.wrong(de::Unexpected::Map, "table"))
    }
}

// === Secret entries ===

/// The keys of a `{ value, expires }` secret table (`user` and `password`
/// instead of `value` for HTTP Basic credentials).
pub(crate) const SECRET_KEYS: &[&str] = &["value", "expires", "user", "password"];

/// One secret or public-key entry as written: `"env:X"` or
/// `{ value = "env:X", expires = "2026-12-01T00:00:00Z" }`.
pub(crate) enum RawSecret {
    /// The short form; its span is the entry's span.
    Plain(String),
    /// The table form.
    Table {
        value: Option<Spanned<SecretText>>,
        /// A TOML string or a TOML offset datetime.
        expires: Option<Spanned<toml::Value>>,
        /// HTTP Basic: the user and password, each a reference.
        user: Option<Spanned<SecretText>>,
        password: Option<Spanned<SecretText>>,
    },
}

/// `secrets`/`public_keys`: one entry, or an array of entries.
pub(crate) enum SecretList {
    /// `secrets = "env:X"` or `secrets = { value = ... }`; spans are the list's.
    One(RawSecret),
    /// `secrets = [...]`.
    Many(Vec<Spanned<RawSecret>>),
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

const SECRET_EXPECTING: &str =
    "a secret: \"env:NAME\", \"file:PATH\", a literal, or { value = ..., expires = ... }";

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = RawSecret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SECRET_EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSecret, E> {
        Ok(RawSecret::Plain(v.to_owned()))
    }

    // Never echo what was found: it may be secret material.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawSecret, E> {
        Err(E::custom(format!(
            "invalid type: boolean, expected {SECRET_EXPECTING}"
        )))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawSecret, E> {
        Err(E::custom(format!(
            "invalid type: integer, expected {SECRET_EXPECTING}"
        )))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawSecret, E> {
        Err(E::custom(format!(
            "invalid type: integer, expected {SECRET_EXPECTING}"
        )))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawSecret, E> {
        Err(E::custom(format!(
            "invalid type: float, expected {SECRET_EXPECTING}"
        )))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<RawSecret, A::Error> {
        Err(de::Error::custom(format!(
            "invalid type: array, expected {SECRET_EXPECTING}"
        )))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSecret, A::Error> {
        let (mut value, mut expires, mut user, mut password) = (None, None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            let duplicate = || de::Error::custom(format!("duplicate key {key:?}"));
            match key.as_str() {
                "value" if value.is_none() => value = Some(map.next_value()?),
                "expires" if expires.is_none() => expires = Some(map.next_value()?),
                "user" if user.is_none() => user = Some(map.next_value()?),
                "password" if password.is_none() => password = Some(map.next_value()?),
                "value" | "expires" | "user" | "password" => return Err(duplicate()),
                other => return Err(de::Error::unknown_field(other, SECRET_KEYS)),
            }
        }
        Ok(RawSecret::Table {
            value,
            expires,
            user,
            password,
        })
    }
}

impl<'de> Deserialize<'de> for SecretList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretListVisitor)
    }
}

struct SecretListVisitor;

impl<'de> Visitor<'de> for SecretListVisitor {
    type Value = SecretList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of secrets, each {SECRET_EXPECTING}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretList, E> {
        Ok(SecretList::One(RawSecret::Plain(v.to_owned())))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<SecretList, E> {
        SecretVisitor.visit_bool(v).map(SecretList::One)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretList, E> {
        SecretVisitor.visit_i64(v).map(SecretList::One)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretList, E> {
        SecretVisitor.visit_u64(v).map(SecretList::One)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<SecretList, E> {
        SecretVisitor.visit_f64(v).map(SecretList::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SecretList, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawSecret>>()? {
            items.push(item);
        }
        Ok(SecretList::Many(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretList, A::Error> {
        SecretVisitor.visit_map(map).map(SecretList::One)
    }
}

// === Allowed keys ===

/// The keys each table of the file may hold, by table shape (`route[].hmac`),
/// read from the serde structs themselves so the list cannot drift from them.
/// `None` for shapes that are not tables of known keys.
pub(crate) fn allowed_keys(shape: &str) -> Option<&'static [&'static str]> {
    Some(match shape {
        "" => fields_of::<RawConfig>(),
        "server" => fields_of::<RawServer>(),
        "server.tls" => fields_of::<RawTls>(),
        "admin" => fields_of::<RawAdmin>(),
        "upstream" => fields_of::<RawUpstream>(),
        "replay" => fields_of::<RawReplay>(),
        "security" => fields_of::<RawSecurity>(),
        "log" => fields_of::<RawLog>(),
        "spool" => fields_of::<RawSpool>(),
        "route[]" => fields_of::<RawRoute>(),
        "receipt" => fields_of::<RawReceipt>(),
        "receipt.secret" | "receipt.secret[]" => SECRET_KEYS,
        "route[].rate_limit" => fields_of::<RawRateLimit>(),
        "route[].retry" => fields_of::<RawRetry>(),
        "route[].hmac" => fields_of::<RawHmac>(),
        "route[].keys" => fields_of::<RawKeys>(),
        "route[].secrets"
        | "route[].secrets[]"
        | "route[].public_key"
        | "route[].public_keys"
        | "route[].public_keys[]" => SECRET_KEYS,
        _ => return None,
    })
}

/// The field names a derived `Deserialize` struct declares, obtained by
/// asking it to deserialize from a deserializer that only records them.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldProbe) {
        Err(Probed(fields)) => fields,
        Ok(_) => &[],
    }
}

struct FieldProbe;

#[derive(Debug)]
struct Probed(&'static [&'static str]);

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probed(&[])
    }
}

impl<'de> Deserializer<'de> for FieldProbe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_keys_come_from_the_structs() {
        assert_eq!(allowed_keys("server.tls"), Some(&["cert", "key"][..]));
        let route = allowed_keys("route[]").unwrap();
        assert!(route.contains(&"verify_token") && route.contains(&"hmac"));
        assert_eq!(allowed_keys("route[].secrets[]"), Some(SECRET_KEYS));
        assert_eq!(allowed_keys("route[].path"), None);
    }

    #[test]
    fn secret_forms() {
        let raw: RawRoute = toml::from_str(
            r#"secrets = ["env:A", { value = "file:b", expires = 2026-12-01T00:00:00Z }]
               public_key = "abc""#,
        )
        .unwrap();
        let Some(SecretList::Many(items)) = raw.secrets.map(Spanned::into_inner) else {
            panic!("expected a list");
        };
        assert!(matches!(items[0].get_ref(), RawSecret::Plain(s) if s == "env:A"));
        assert!(matches!(
            items[1].get_ref(),
            RawSecret::Table {
                value: Some(_),
                expires: Some(_),
                ..
            }
        ));
        assert!(matches!(
            raw.public_key.map(Spanned::into_inner),
            Some(RawSecret::Plain(_))
        ));
        let one: RawRoute = toml::from_str(r#"secrets = "env:A""#).unwrap();
        assert!(matches!(
            one.secrets.map(Spanned::into_inner),
            Some(SecretList::One(_))
        ));
    }

    #[test]
    fn secret_type_errors_do_not_echo_the_value() {
        for src in [
            "secrets = [123456789]",
            "secrets = 123456789",
            "secrets = [{ value = 123456789 }]",
            "verify_token = 123456789",
        ] {
            let err = toml::from_str::<RawRoute>(src).err().expect(src);
            assert!(
                !err.message().contains("123456789"),
                "{src}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn duration_type_error_names_the_form() {
        let err = toml::from_str::<RawRoute>("tolerance = 300").err().unwrap();
        assert!(
            err.message().contains("a duration string such as \"30s\""),
            "{}",
            err.message()
        );
    }
}
