//! API authentication: `Authorization: Bearer <token>` with the admin token or a project's
//! API key. Only SHA-256 hashes of tokens are kept; comparisons are constant-time.

use http::HeaderMap;
use inlet_sdk::crypto::{HashAlgorithm, constant_time_eq, digest};
use inlet_store::Store;
use inlet_web::ApiError;

pub const API_KEY_PREFIX: &str = "ik_";
const ADMIN_TOKEN_PREFIX: &str = "ia_";

pub struct Auth {
    admin_hash: [u8; 32],
}

/// Who is calling.
#[derive(Debug, PartialEq, Eq)]
pub enum Caller {
    Admin,
    /// The holder of a project's API key.
    Project(String),
}

impl Auth {
    /// Uses the configured admin token, or the one generated at first start. Returns the
    /// plaintext token when it was generated just now, so it can be printed once.
    pub async fn init(
        store: &Store,
        configured: Option<&str>,
    ) -> anyhow::Result<(Self, Option<String>)> {
        if let Some(token) = configured {
            return Ok((
                Self {
                    admin_hash: sha256(token.as_bytes()),
                },
                None,
            ));
        }
        if let Some(hash) = store.admin_token_hash()? {
            let admin_hash = hash
                .try_into()
                .map_err(|_| anyhow::anyhow!("the stored admin token hash is corrupt"))?;
            return Ok((Self { admin_hash }, None));
        }
        let token = random_token(ADMIN_TOKEN_PREFIX);
        let admin_hash = sha256(token.as_bytes());
        store.set_admin_token_hash(&admin_hash).await?;
        Ok((Self { admin_hash }, Some(token)))
    }

    /// Identifies the caller, or answers 401.
    pub fn caller(&self, store: &Store, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = bearer(headers).ok_or_else(|| {
            ApiError::unauthorized("send `Authorization: Bearer <admin token or project API key>`")
        })?;
        let hash = sha256(token.as_bytes());
        if constant_time_eq(&hash, &self.admin_hash) {
            return Ok(Caller::Admin);
        }
        if token.starts_with(API_KEY_PREFIX)
            && let Some(project) = store.project_for_key_hash(&hash)?
        {
            return Ok(Caller::Project(project));
        }
        Err(ApiError::unauthorized("the token is not valid"))
    }

    pub fn require_admin(&self, store: &Store, headers: &HeaderMap) -> Result<(), ApiError> {
        match self.caller(store, headers)? {
            Caller::Admin => Ok(()),
            Caller::Project(_) => Err(forbidden()),
        }
    }

    /// The admin, or the holder of this project's API key.
    pub fn require_project(
        &self,
        store: &Store,
        headers: &HeaderMap,
        project_id: &str,
    ) -> Result<Caller, ApiError> {
        match self.caller(store, headers)? {
            Caller::Project(p) if p != project_id => Err(forbidden()),
            caller => Ok(caller),
        }
    }
}

fn forbidden() -> ApiError {
    ApiError::new(
        http::StatusCode::FORBIDDEN,
        "forbidden",
        "this API key may only manage its own project's sources and events",
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A new API key and the hash to store for it.
pub fn new_api_key() -> (String, [u8; 32]) {
    let key = random_token(API_KEY_PREFIX);
    let hash = sha256(key.as_bytes());
    (key, hash)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    digest(HashAlgorithm::Sha256, bytes)
        .try_into()
        .expect("SHA-256 digests are 32 bytes")
}

/// A random token with the given prefix and 256 bits of entropy, hex encoded.
fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = random_token("ik_");
        let b = random_token("ik_");
        assert!(a.starts_with("ik_") && a.len() == 67);
        assert_ne!(a, b);
    }
}
