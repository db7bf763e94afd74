//! A source's verifier configuration, in Convoy's JSON shape plus Inlet's additions
//! (several secrets, advanced signatures, tolerance). How it is checked is `inlet-verify`'s.

use serde::{Deserialize, Serialize};

use crate::{FieldError, Secret};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifierType {
    #[default]
    Noop,
    Hmac,
    BasicAuth,
    ApiKey,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierConfig {
    #[serde(rename = "type", default)]
    pub kind: VerifierType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFormat {
    /// The header holds the signature of the raw body.
    #[default]
    Simple,
    /// The header holds `t=<unix>,v1=<sig>[,v1=<sig>…]`, signing `"<t>,<raw body>"`.
    Advanced,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacConfig {
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub hash: String,
    #[serde(default)]
    pub secret: Secret,
    #[serde(default)]
    pub encoding: String,
    /// Further active secrets, for rotation: any one may match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    #[serde(default)]
    pub signature_format: SignatureFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicAuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyConfig {
    #[serde(default)]
    pub header_name: String,
    #[serde(default)]
    pub header_value: Secret,
}

impl VerifierConfig {
    /// For an update that echoes redacted secrets back: keeps the stored secret at each
    /// place that holds the redaction (`hmac.secrets` by position).
    pub fn restore_secrets(&mut self, stored: &VerifierConfig) -> Result<(), FieldError> {
        if let Some(new) = &mut self.hmac {
            let old = stored.hmac.as_ref();
            new.secret
                .restore_from(old.map(|h| &h.secret), "verifier.hmac.secret")?;
            for (i, secret) in new.secrets.iter_mut().enumerate() {
                let kept = old.and_then(|h| h.secrets.get(i));
                secret.restore_from(kept, "verifier.hmac.secrets")?;
            }
        }
        if let Some(new) = &mut self.basic_auth {
            let old = stored.basic_auth.as_ref().map(|b| &b.password);
            new.password
                .restore_from(old, "verifier.basic_auth.password")?;
        }
        if let Some(new) = &mut self.api_key {
            let old = stored.api_key.as_ref().map(|k| &k.header_value);
            new.header_value
                .restore_from(old, "verifier.api_key.header_value")?;
        }
        Ok(())
    }

    /// The request header that carries a credential, masked when the request is stored.
    pub fn credential_header(&self) -> Option<&str> {
        match self.kind {
            VerifierType::BasicAuth => Some("authorization"),
            VerifierType::ApiKey => self.api_key.as_ref().map(|k| k.header_name.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::REDACTED;

    fn hmac_config() -> VerifierConfig {
        VerifierConfig {
            kind: VerifierType::Hmac,
            hmac: Some(HmacConfig {
                header: "X-Sig".into(),
                hash: "SHA256".into(),
                secret: "old".into(),
                encoding: "hex".into(),
                secrets: vec!["new".into()],
                signature_format: SignatureFormat::Simple,
                tolerance_seconds: Some(60),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn redaction_round_trips_through_an_update() {
        let stored = hmac_config();
        let shown = serde_json::to_value(&stored).unwrap();
        assert_eq!(shown["hmac"]["secret"], REDACTED);
        let mut echoed: VerifierConfig = serde_json::from_value(shown).unwrap();
        echoed.restore_secrets(&stored).unwrap();
        assert_eq!(echoed, stored);
    }
}
