//! Secrets (passwords, API keys, tokens) that must never reach a log, status output or
//! error message: the type has no `Display`, and its `Debug` prints a placeholder.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for building a request. Never format it into text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A secret as written inline in a config file. Its `Debug` hides it, and a value of
/// the wrong type is refused without quoting it (serde's usual message would echo
/// `invalid type: integer `12345``).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(***)")
    }
}

impl<'de> serde::Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

const NOT_TEXT: &str =
    "a secret must be a string in quotes (the value given is not shown: it may be secret)";

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = SecretText;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretText, E> {
        Ok(SecretText(v.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretText, E> {
        Ok(SecretText(v))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretText, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretText, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretText, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretText, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<SecretText, A::Error> {
        Err(serde::de::Error::custom(NOT_TEXT))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<SecretText, A::Error> {
        Err(serde::de::Error::custom(NOT_TEXT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_of_the_wrong_type_is_refused_without_quoting_it() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            password: SecretText,
        }
        for text in [
            "password = 91827364\n",
            "password = 918273.64\n",
            "password = [\"91827364\"]\n",
            "password = { v = \"91827364\" }\n",
            "password = 1991-08-27T03:06:04Z\n",
        ] {
            let e = toml::from_str::<T>(text).unwrap_err();
            // Only the message is shown (FileError::from_toml); toml's Display
            // would quote the input line itself.
            let shown = e.message();
            assert!(!shown.contains("918"), "{text}: {shown}");
        }
        let t: T = toml::from_str("password = \"91827364\"\n").unwrap();
        assert_eq!(t.password.0, "91827364");
        assert!(!format!("{t:?}").contains("918"));
    }

    #[test]
    fn debug_output_hides_the_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
