//! API authentication: `Authorization: Bearer <token>` with the admin token or a project's
//! API key. Only SHA-256 hashes of tokens are kept; comparisons are constant-time.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
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
    /// Uses the configured admin token (and retires a generated one, so that unsetting
    /// the configured token later cannot bring an old, perhaps leaked, one back), or the
    /// one generated at first start. A token generated now is written to `token_file`,
    /// readable by its owner only, and never to the log; only its hash is stored. Returns
    /// the file when it was written just now.
    pub async fn init(
        store: &Store,
        configured: Option<&str>,
        token_file: &Path,
    ) -> anyhow::Result<(Self, Option<PathBuf>)> {
        if let Some(token) = configured {
            if store.admin_token_hash()?.is_some() {
                store.clear_admin_token_hash().await?;
                remove_token_file(token_file)?;
                tracing::info!("INLET_ADMIN_TOKEN is set: the generated admin token is retired");
            }
            let admin_hash = sha256(token.as_bytes());
            return Ok((Self { admin_hash }, None));
        }
        if let Some(hash) = store.admin_token_hash()? {
            let admin_hash = hash
                .try_into()
                .map_err(|_| anyhow::anyhow!("the stored admin token hash is corrupt"))?;
            return Ok((Self { admin_hash }, None));
        }
        let token = random_token(ADMIN_TOKEN_PREFIX);
        write_token_file(token_file, &token)?;
        let admin_hash = sha256(token.as_bytes());
        store.set_admin_token_hash(&admin_hash).await?;
        Ok((Self { admin_hash }, Some(token_file.to_path_buf())))
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

/// Shortest admin token accepted from INLET_ADMIN_TOKEN: 32 bytes, as many as a generated
/// one has of entropy.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Writes a generated token to a new file only its owner can read (0600).
fn write_token_file(path: &Path, token: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| {
            // A file that already existed keeps its mode: set it.
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            file.write_all(format!("{token}\n").as_bytes())?;
            file.sync_all()
        });
    written.with_context(|| format!("cannot write the admin token file {}", path.display()))
}

fn remove_token_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
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
