//! Secrets in configuration: the [`Secret`] type, redacted whenever it is serialized, except
//! inside [`with_secrets_exposed`], which only the store's own serialization uses. A new
//! secret field is therefore redacted in every API answer and log line by default.

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::FieldError;

/// What a secret looks like in any API answer or log line.
pub const REDACTED: &str = "********";

thread_local! {
    static EXPOSED: Cell<bool> = const { Cell::new(false) };
}

/// A secret value (a signing secret, a password, a key). Deserialized from its plaintext;
/// serialized as [`REDACTED`] (or `""` when empty, so a missing secret stays visible).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext, for the code that verifies or connects with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For an update that echoes a redacted secret back: the rule of [`restore`].
    pub fn restore_from(&mut self, stored: Option<&Secret>, field: &str) -> Result<(), FieldError> {
        restore(&mut self.0, stored.map(Secret::expose), field)
    }
}

/// The one rule for secrets echoed back in an update: the literal [`REDACTED`] means "keep
/// the stored secret at this place"; with no stored secret there, it is refused, so the
/// public redaction string can never become a secret.
pub fn restore(value: &mut String, stored: Option<&str>, field: &str) -> Result<(), FieldError> {
    if value != REDACTED {
        return Ok(());
    }
    match stored.filter(|s| !s.is_empty()) {
        Some(stored) => {
            *value = stored.to_string();
            Ok(())
        }
        None => Err(FieldError::new(
            field.to_string(),
            format!(
                "{REDACTED} stands for a stored secret, and none is stored here; send the secret itself"
            ),
        )),
    }
}

/// How a secret string is shown: [`REDACTED`], or `""` when it is empty.
pub fn redact(value: &str) -> &'static str {
    if value.is_empty() { "" } else { REDACTED }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if EXPOSED.get() {
            serializer.serialize_str(&self.0)
        } else {
            serializer.serialize_str(redact(&self.0))
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", redact(&self.0))
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// One of a list of active secrets (rotation), known by an id: random, given when it is
/// first stored, and shown in its redacted form `********#<id>`. An update keeps a stored
/// secret by naming that form, so retiring one secret keeps exactly the others, whatever
/// their order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedSecret {
    id: String,
    secret: Secret,
}

impl ListedSecret {
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The redacted form that names this secret in API answers.
    pub fn redacted(&self) -> String {
        format!("{REDACTED}#{}", self.id)
    }
}

impl From<&str> for ListedSecret {
    fn from(value: &str) -> Self {
        Self {
            id: String::new(),
            secret: Secret::new(value),
        }
    }
}

/// The [`restore`] rule for a list: an entry `********#<id>` is the stored secret of that
/// id (refused when there is none); a new plaintext secret gets an id; the bare redaction
/// string names nothing and is refused.
pub fn settle_list(
    list: &mut [ListedSecret],
    stored: &[ListedSecret],
    field: &str,
) -> Result<(), FieldError> {
    for entry in list {
        if entry.secret.is_empty() && !entry.id.is_empty() {
            let kept = stored.iter().find(|s| s.id == entry.id).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "{} names no stored secret; send the secret itself",
                        entry.redacted()
                    ),
                )
            })?;
            *entry = kept.clone();
        } else if entry.secret.expose() == REDACTED {
            return Err(FieldError::new(
                field,
                format!(
                    "{REDACTED} does not say which stored secret to keep: use the form the API shows ({REDACTED}#<id>), or send the secret itself"
                ),
            ));
        } else if entry.id.is_empty() {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            entry.id = hex::encode(bytes);
        }
    }
    Ok(())
}

impl Serialize for ListedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if EXPOSED.get() {
            Stored {
                id: self.id.clone(),
                secret: self.secret.expose().to_string(),
            }
            .serialize(serializer)
        } else if self.secret.is_empty() {
            serializer.serialize_str("")
        } else {
            serializer.serialize_str(&self.redacted())
        }
    }
}

/// How the store keeps a listed secret.
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    secret: String,
}

impl<'de> Deserialize<'de> for ListedSecret {
    /// From the API: a plaintext secret, or `********#<id>` naming a stored one. From the
    /// store: `{"id", "secret"}`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Given(String),
            Stored(Stored),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Given(text) => match text.strip_prefix(&format!("{REDACTED}#")) {
                Some(id) if !id.is_empty() => Self {
                    id: id.to_string(),
                    secret: Secret::default(),
                },
                _ => Self::from(text.as_str()),
            },
            Form::Stored(Stored { id, secret }) => Self {
                id,
                secret: Secret::new(secret),
            },
        })
    }
}

/// A plugin's configuration value (`provider_config`): plain, or a [`Secret`] when the
/// plugin declares the field secret. The store keeps a secret as `{"secret": …}` so that it
/// is still known as one when it is read back; everywhere else it is redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Plain(String),
    Secret(Secret),
}

impl ConfigValue {
    /// The value, for the plugin.
    pub fn expose(&self) -> &str {
        match self {
            Self::Plain(value) => value,
            Self::Secret(secret) => secret.expose(),
        }
    }

    /// Makes the value a secret (a field the plugin declares secret).
    pub fn make_secret(&mut self) {
        if let Self::Plain(value) = self {
            *self = Self::Secret(Secret::new(std::mem::take(value)));
        }
    }
}

impl From<&str> for ConfigValue {
    fn from(value: &str) -> Self {
        Self::Plain(value.to_string())
    }
}

#[derive(Serialize, Deserialize)]
struct StoredConfigSecret {
    secret: String,
}

impl Serialize for ConfigValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(value) => serializer.serialize_str(value),
            Self::Secret(secret) if EXPOSED.get() => StoredConfigSecret {
                secret: secret.expose().to_string(),
            }
            .serialize(serializer),
            Self::Secret(secret) => secret.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    /// From the API: a string (made a secret when the plugin declares the field one). From
    /// the store: a string or `{"secret": …}`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Plain(String),
            Secret(StoredConfigSecret),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Plain(value) => Self::Plain(value),
            Form::Secret(StoredConfigSecret { secret }) => Self::Secret(Secret::new(secret)),
        })
    }
}

/// Runs `f` with every [`Secret`] serialized in plaintext on this thread: for the store,
/// which must keep the secrets it is given.
pub fn with_secrets_exposed<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPOSED.set(self.0);
        }
    }
    let _reset = Reset(EXPOSED.replace(true));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_serialize_redacted_except_for_the_store() {
        let secret = Secret::new("s3cret");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"********\"");
        assert_eq!(format!("{secret:?}"), "Secret(********)");
        let stored = with_secrets_exposed(|| serde_json::to_string(&secret).unwrap());
        assert_eq!(stored, "\"s3cret\"");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"********\"");
        assert_eq!(serde_json::to_string(&Secret::default()).unwrap(), "\"\"");
    }

    #[test]
    fn config_secrets_stay_secrets_through_the_store() {
        let mut value = ConfigValue::from("token");
        value.make_secret();
        assert_eq!(serde_json::to_string(&value).unwrap(), "\"********\"");
        assert_eq!(format!("{value:?}"), "Secret(Secret(********))");
        let stored = with_secrets_exposed(|| serde_json::to_string(&value).unwrap());
        let read: ConfigValue = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, value);
        assert_eq!(read.expose(), "token");
        let plain: ConfigValue = serde_json::from_str("\"shown\"").unwrap();
        assert_eq!(serde_json::to_string(&plain).unwrap(), "\"shown\"");
    }

    #[test]
    fn listed_secrets_are_kept_by_identity_not_position() {
        let mut stored: Vec<ListedSecret> = vec!["a".into(), "b".into(), "c".into()];
        settle_list(&mut stored, &[], "s").unwrap();
        let stored: Vec<ListedSecret> = with_secrets_exposed(|| {
            serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap()
        });
        let shown = serde_json::to_value(&stored).unwrap();
        assert!(!shown.to_string().contains("\"a\""), "{shown}");
        // Retire b: echo a's and c's forms, in another order, and add d.
        let echo = serde_json::json!([shown[2], "d", shown[0]]);
        let mut update: Vec<ListedSecret> = serde_json::from_value(echo).unwrap();
        settle_list(&mut update, &stored, "s").unwrap();
        let kept: Vec<&str> = update.iter().map(|s| s.secret().expose()).collect();
        assert_eq!(kept, ["c", "d", "a"]);
        for refused in [
            serde_json::json!([REDACTED]),
            serde_json::json!(["********#nosuch"]),
        ] {
            let mut update: Vec<ListedSecret> = serde_json::from_value(refused).unwrap();
            assert_eq!(
                settle_list(&mut update, &stored, "s").unwrap_err().field,
                "s"
            );
        }
    }

    #[test]
    fn a_redacted_echo_keeps_the_stored_secret_and_is_refused_without_one() {
        let stored = Secret::new("old");
        let mut echoed = Secret::new(REDACTED);
        echoed.restore_from(Some(&stored), "x").unwrap();
        assert_eq!(echoed, stored);
        let mut changed = Secret::new("new");
        changed.restore_from(Some(&stored), "x").unwrap();
        assert_eq!(changed.expose(), "new");
        let mut unbacked = Secret::new(REDACTED);
        assert_eq!(unbacked.restore_from(None, "x").unwrap_err().field, "x");
    }
}
