//! Secrets in configuration: the [`Secret`] type, redacted whenever it is serialized, except
//! inside [`with_secrets_exposed`], which only the store's own serialization uses. A new
//! secret field is therefore redacted in every API answer and log line by default.

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

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
