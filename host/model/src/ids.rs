//! Identifiers: record uids (time-ordered ULIDs) and the unguessable mask id of a source's
//! public ingest URL.

/// A new uid: a ULID, so uids sort by creation time.
pub fn new_uid() -> String {
    ulid::Ulid::new().to_string()
}

/// An unguessable URL-safe identifier (128 bits) for a source's public ingest URL.
pub fn new_mask_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mask_ids_are_random_hex() {
        let (a, b) = (super::new_mask_id(), super::new_mask_id());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
