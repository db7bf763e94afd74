//! A source's verifier configuration, in Convoy's JSON shape plus Inlet's additions
//! (several secrets, advanced signatures, tolerance). How it is checked is `inlet-verify`'s.

use serde::{Deserialize, Serialize};

use crate::{FieldError, ListedSecret, Secret, settle_list};

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
    /// Required: a verifier without a type must not silently accept everything.
    #[serde(rename = "type")]
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
    pub secrets: Vec<ListedSecret>,
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
    /// Settles the secrets of a configuration given to the API, against the stored one
    /// (`None` for a new source): a redacted echo keeps the stored secret (`hmac.secrets`
    /// by id), and a redaction that no stored secret backs is refused.
    pub fn settle_secrets(&mut self, stored: Option<&VerifierConfig>) -> Result<(), FieldError> {
        if let Some(new) = &mut self.hmac {
            let old = stored.and_then(|s| s.hmac.as_ref());
            new.secret
                .restore_from(old.map(|h| &h.secret), "verifier.hmac.secret")?;
            let old_list = old.map_or(&[][..], |h| &h.secrets);
            settle_list(&mut new.secrets, old_list, "verifier.hmac.secrets")?;
        }
        if let Some(new) = &mut self.basic_auth {
            let old = stored
                .and_then(|s| s.basic_auth.as_ref())
                .map(|b| &b.password);
            new.password
                .restore_from(old, "verifier.basic_auth.password")?;
        }
        if let Some(new) = &mut self.api_key {
            let old = stored
                .and_then(|s| s.api_key.as_ref())
                .map(|k| &k.header_value);
            new.header_value
                .restore_from(old, "verifier.api_key.header_value")?;
        }
        Ok(())
    }

    /// Every active HMAC secret: `hmac.secret`, then `hmac.secrets`, the empty ones left out.
    pub fn hmac_secrets(&self) -> impl Iterator<Item = &Secret> {
        let hmac = self.hmac.iter();
        hmac.flat_map(|h| {
            std::iter::once(&h.secret).chain(h.secrets.iter().map(ListedSecret::secret))
        })
        .filter(|s| !s.is_empty())
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
        let mut stored = hmac_config();
        stored.settle_secrets(None).unwrap();
        let shown = serde_json::to_value(&stored).unwrap();
        assert_eq!(shown["hmac"]["secret"], REDACTED);
        let mut echoed: VerifierConfig = serde_json::from_value(shown).unwrap();
        echoed.settle_secrets(Some(&stored)).unwrap();
        assert_eq!(echoed, stored);
    }

    #[test]
    fn a_verifier_needs_a_type() {
        let error = serde_json::from_value::<VerifierConfig>(serde_json::json!({
            "hmac": {"header": "X-Sig", "hash": "SHA256", "encoding": "hex", "secret": "s"}
        }))
        .unwrap_err();
        assert!(
            error.to_string().contains("missing field `type`"),
            "{error}"
        );
    }
}
