//! A value and where it is written: `toml::Spanned`, except that it also
//! accepts a table that TOML defines implicitly.
//!
//! `toml` gives a span to every value written in the file, but not to a
//! table that only exists through its children: `[server.tls]` with no
//! `[server]` header, or `rate_limit.per_second = 5` (a dotted key). For
//! those it hands `toml::Spanned` a plain map, which fails with "invalid
//! type: string "tls", expected a borrowed string". Every spelling of the
//! same data must be accepted, so this type speaks the same protocol with
//! the deserializer and, for an implicit table, takes the position of its
//! first key as the table's (where its first key is written: the right
//! place to report, say, a key missing from it).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};

// The names `toml` recognises as a request for a span (they are what
// `serde_spanned`, which `toml::Spanned` is, sends).
const NAME: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";
const FIELDS: &[&str] = &[START, END, VALUE];

/// A deserialized value and its byte range in the source.
pub(crate) struct Spanned<T> {
    span: Range<usize>,
    value: T,
}

impl<T> Spanned<T> {
    /// Where the value is written (for an implicit table: its first key).
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The value.
    pub(crate) fn get_ref(&self) -> &T {
        &self.value
    }

    /// The value, without its span.
    pub(crate) fn into_inner(self) -> T {
        self.value
    }
}

impl<T: Clone> Clone for Spanned<T> {
    fn clone(&self) -> Self {
        Self {
            span: self.span.clone(),
            value: self.value.clone(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(NAME, FIELDS, SpannedVisitor(PhantomData))
    }
}

struct SpannedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
    type Value = Spanned<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
        let Some(first) = map.next_key_seed(FirstKey)? else {
            // An empty map without a span cannot come from toml (an implicit
            // table has a child); read it as an empty table all the same.
            let value = T::deserialize(MapAccessDeserializer::new(map))?;
            return Ok(Spanned { span: 0..0, value });
        };
        match first {
            Key::Text(key) if key == START => spanned(map),
            Key::Text(key) => implicit_table(key, 0..0, map),
            Key::Located(key, span) => implicit_table(key, span, map),
        }
    }
}

/// The span protocol, after its first key: start, end, then the value.
fn spanned<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    mut map: A,
) -> Result<Spanned<T>, A::Error> {
    let start: usize = map.next_value()?;
    let mut end = None;
    let mut value = None;
    while let Some(key) = map.next_key::<String>()? {
        match key.as_str() {
            END => end = Some(map.next_value()?),
            VALUE => value = Some(map.next_value()?),
            other => return Err(de::Error::unknown_field(other, FIELDS)),
        }
    }
    match (end, value) {
        (Some(end), Some(value)) => Ok(Spanned {
            span: start..end,
            value,
        }),
        (None, _) => Err(de::Error::missing_field(END)),
        (_, None) => Err(de::Error::missing_field(VALUE)),
    }
}

/// A table without a span: `first` (already read) and the rest of `map`.
fn implicit_table<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    first: String,
    span: Range<usize>,
    map: A,
) -> Result<Spanned<T>, A::Error> {
    let rest = Resumed {
        first: Some(first),
        map,
    };
    let value = T::deserialize(MapAccessDeserializer::new(rest))?;
    Ok(Spanned { span, value })
}

/// A table's first key: the protocol's field name, or a key of the file
/// with its position when the deserializer knows it.
enum Key {
    Text(String),
    Located(String, Range<usize>),
}

struct FirstKey;

impl<'de> DeserializeSeed<'de> for FirstKey {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        // A key of the file answers the span request with its position; the
        // protocol's own field names are plain strings.
        d.deserialize_struct(NAME, FIELDS, FirstKeyVisitor)
    }
}

struct FirstKeyVisitor;

impl<'de> Visitor<'de> for FirstKeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key::Text(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == START => {
                let located: Spanned<String> = spanned(map)?;
                Ok(Key::Located(located.value, located.span))
            }
            _ => Err(de::Error::custom("expected a table key")),
        }
    }
}

/// A map whose first key was already read: yields it again, then the rest.
struct Resumed<A> {
    first: Option<String>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Resumed<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => {
                let key: StringDeserializer<A::Error> =
                    de::IntoDeserializer::into_deserializer(key);
                seed.deserialize(key).map(Some)
            }
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}
