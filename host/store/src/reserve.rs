//! Spare space that Inlet keeps for itself in the store's directory, so that it can always
//! open its store again on a full disk.
//!
//! Opening the store replays the write-ahead log that was not flushed yet into new table
//! files; on a full disk that fails, and Inlet could not start at all. RocksDB's options
//! bound that log (`MAX_WAL_BYTES` plus the memtable being filled), so
//! a file of [`RESERVE_BYTES`] is always enough room: when opening fails for lack of space,
//! the store deletes it and opens again. Once open, the store writes it back as far as the
//! disk allows (the replayed log is deleted after its flush, which usually frees at least as
//! much); a reserve found short is topped up at the next start.
//!
//! A simpler bound alone would not do: whatever the options, a disk filled by something else
//! leaves no room for the flush.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Size of the reserve: twice the most of the write-ahead log replayed at opening (about
/// `MAX_WAL_BYTES` plus one memtable, 48 MiB), which also covers the small files an opening
/// writes (a new MANIFEST, OPTIONS and log).
pub const RESERVE_BYTES: u64 = 64 << 20;

/// Its name in the store's directory; RocksDB leaves files it does not name alone.
const FILE_NAME: &str = "SPACE-RESERVE";

/// Written in chunks of this size.
const CHUNK: usize = 1 << 20;

pub(super) struct Reserve {
    path: PathBuf,
}

impl Reserve {
    pub(super) fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
        }
    }

    /// Deletes the reserve; false when there was none.
    pub(super) fn release(&self) -> io::Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Grows the reserve to [`RESERVE_BYTES`], or as far as the disk allows: returns its
    /// size, and the error that stopped it short, if any.
    pub(super) fn restore(&self) -> (u64, Option<io::Error>) {
        let mut file = match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(e) => return (0, Some(e)),
        };
        let mut size = match file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => return (0, Some(e)),
        };
        if size >= RESERVE_BYTES {
            return (size, None);
        }
        let chunk = incompressible_chunk();
        while size < RESERVE_BYTES {
            let n = chunk.len().min((RESERVE_BYTES - size) as usize);
            if let Err(e) = file.write_all(&chunk[..n]) {
                return (current_size(&file, size), Some(e));
            }
            size += n as u64;
        }
        // Not synced: the space is taken when the data is written (tmpfs, and the delayed
        // allocation of ext4, XFS and btrfs reserve it then), and syncing 64 MiB would slow
        // every first start. A reserve cut short by a crash is topped up at the next start.
        (size, None)
    }
}

fn current_size(file: &File, fallback: u64) -> u64 {
    file.metadata().map_or(fallback, |meta| meta.len())
}

/// Pseudo-random bytes: a file system that compresses (btrfs, ZFS) would store zeros in
/// nothing and reserve no space.
fn incompressible_chunk() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut chunk = Vec::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.extend_from_slice(&state.to_le_bytes());
    }
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_restored_to_its_size_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let reserve = Reserve::in_dir(dir.path());
        assert!(!reserve.release().unwrap());
        let (size, error) = reserve.restore();
        assert_eq!((size, error.is_none()), (RESERVE_BYTES, true));
        // A short reserve (cut by a crash, or by a full disk) is topped up.
        File::options()
            .write(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap()
            .set_len(1000)
            .unwrap();
        assert_eq!(reserve.restore().0, RESERVE_BYTES);
        assert!(reserve.release().unwrap());
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}
