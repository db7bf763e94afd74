//! A full disk loses nothing and is visible: Inlet runs on a small tmpfs that a filler file
//! and a load fill. Every acknowledged event is read back; once writes fail, ingest answers
//! 503 `store_unavailable` at once and `/readyz` says the disk is full; a restart on the
//! full disk opens the store (its reserve of free space makes room); deleting the filler
//! brings writes back without a restart.
//!
//! Mounting a tmpfs needs root (as the test runs here); elsewhere the test says so and
//! passes without running.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use inlet::config::Settings;
use inlet::server::RunningServer;
use inlet_tests::{ADMIN_TOKEN, Client};
use serde_json::json;

/// Big enough for the store's reserve (64 MiB), its write-ahead log as RocksDB preallocates
/// it (17.6 MiB), the plugin cache and the filler.
const TMPFS_MIB: u64 = 128;
/// The store's reserve of free space (`inlet_store::RESERVE_BYTES`).
const RESERVE_BYTES: u64 = 64 << 20;
/// Left free by the filler when the load starts: more than a memtable (16 MiB), so that the
/// load also flushes one.
const LEFT_FREE: u64 = 24 << 20;
/// Each event's body is about this big.
const BODY_BYTES: usize = 8 << 10;
/// Freed by shortening the filler, the first time: more than the 16 MiB RocksDB waits for.
const FREED: u64 = 24 << 20;
/// Requests in flight during the load.
const CONCURRENCY: usize = 16;
/// Longer than any answer may take: a request still unanswered then is a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// A tmpfs mounted on a fresh directory, unmounted when dropped, even when the test fails.
struct Tmpfs {
    mount: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    /// None when this process may not mount (not root).
    fn mount(mib: u64) -> Option<Self> {
        let parent = tempfile::tempdir().unwrap();
        let mount = parent.path().join("tmpfs");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&mount)
            .status()
            .unwrap();
        if !status.success() {
            assert!(!is_root(), "mount -t tmpfs failed as root: {status}");
            return None;
        }
        Some(Self {
            mount,
            _parent: parent,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.mount)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a failed test left the server running): detach it now; the kernel
            // frees it when the last file is closed, at the latest when the process exits.
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|line| line.split_whitespace().take(2).eq(["Uid:", "0"]))
}

async fn start(data_dir: &Path) -> RunningServer {
    let mut settings = Settings::for_data_dir(data_dir);
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.admin_token = Some(ADMIN_TOKEN.into());
    inlet::server::start(settings).await.unwrap()
}

/// Grows the file at `path` until its file system is full, then shortens it so that `leave`
/// bytes are free; returns its size.
fn fill(path: &Path, leave: u64) -> u64 {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let chunk = vec![0x5a_u8; 64 << 10];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    let full = file.metadata().unwrap().len();
    let size = full.saturating_sub(leave);
    file.set_len(size).unwrap();
    size
}

/// Bytes a directory takes on its file system (blocks, so preallocated space counts).
fn used(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                used(&entry.path())
            } else {
                meta.blocks() * 512
            }
        })
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// An event body of about [`BODY_BYTES`], numbered `seq`; its padding does not compress.
fn body(seq: u64) -> Vec<u8> {
    let mut state = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let pad: String = (0..BODY_BYTES / 16)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{state:016x}")
        })
        .collect();
    json!({"seq": seq, "pad": pad}).to_string().into_bytes()
}

/// Posts event `seq`; its status and error code, failing on a hang.
async fn post(client: &Client, path: &str, seq: u64) -> (StatusCode, String) {
    let sent = client.try_send(Method::POST, path, &[], body(seq));
    let reply = tokio::time::timeout(ANSWER_WITHIN, sent)
        .await
        .unwrap_or_else(|_| panic!("event {seq} unanswered after {ANSWER_WITHIN:?}: a hang"))
        .unwrap_or_else(|e| panic!("event {seq}: {e}"));
    let code = if reply.status.is_success() {
        String::new()
    } else {
        reply.code()
    };
    (reply.status, code)
}

/// The `data.seq` of every stored event of a project.
async fn stored(client: &Client, project: &str) -> BTreeSet<u64> {
    let events = client.all_events(project).await;
    let seqs: BTreeSet<u64> = events
        .iter()
        .map(|e| e["data"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), events.len(), "an event stored twice");
    seqs
}

/// What RocksDB logged about errors and recovery, to explain a failure.
fn rocksdb_log(data_dir: &Path) -> String {
    let log = std::fs::read_to_string(data_dir.join("store").join("LOG")).unwrap_or_default();
    let wanted = ["error", "Error", "esume", "ecover", "free space"];
    log.lines()
        .filter(|line| wanted.iter().any(|w| line.contains(w)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `/readyz`'s status and message.
async fn readyz(client: &Client) -> (StatusCode, String) {
    let reply = client.get("/readyz").await;
    let message = reply.json()["message"].as_str().unwrap().to_string();
    (reply.status, message)
}

/// `/readyz` is unready and says the disk is full; returns what it says.
async fn assert_unready_for_no_space(client: &Client) -> String {
    let (status, message) = readyz(client).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(
        message.contains("No space left on device") && message.contains("disk is full"),
        "/readyz does not say the disk is full: {message}"
    );
    message
}

/// What a load until the disk is full did.
struct Load {
    /// Events answered 2xx.
    acked: Vec<u64>,
    /// Requests answered 503 `store_unavailable`.
    refused: usize,
    /// From the start of the load to the first 503.
    first_503: Duration,
}

/// Posts events, [`CONCURRENCY`] at a time, numbered from `next` on, until each task was
/// refused three times in a row; any answer but 2xx or 503 `store_unavailable` fails.
async fn load_until_refused(client: &Client, path: &str, next: &Arc<AtomicU64>) -> Load {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, path, next) = (client.clone(), path.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut refused, mut first_503) = (Vec::new(), 0, None);
            let mut refused_in_a_row = 0;
            while refused_in_a_row < 3 {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "the disk never filled"
                );
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let (status, code) = post(&client, &path, seq).await;
                if status.is_success() {
                    acked.push(seq);
                    refused_in_a_row = 0;
                } else {
                    assert_eq!(
                        (status, code.as_str()),
                        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
                    );
                    first_503.get_or_insert_with(|| started.elapsed());
                    refused += 1;
                    refused_in_a_row += 1;
                }
            }
            (acked, refused, first_503.unwrap())
        }));
    }
    let mut load = Load {
        acked: Vec::new(),
        refused: 0,
        first_503: Duration::MAX,
    };
    for task in tasks {
        let (acked, refused, first_503) = task.await.unwrap();
        load.acked.extend(acked);
        load.refused += refused;
        load.first_503 = load.first_503.min(first_503);
    }
    assert!(
        load.acked.len() > 100,
        "only {} events before the disk filled",
        load.acked.len()
    );
    load
}

/// The disk is full: `/readyz` says so, and every write is refused at once. Returns what
/// `/readyz` says.
async fn assert_full(client: &Client, path: &str, next: &AtomicU64) -> String {
    let message = assert_unready_for_no_space(client).await;
    assert_eq!(client.metric("inlet_store_writable").await, 0.0);
    for _ in 0..20 {
        let asked = Instant::now();
        let outcome = post(client, path, next.fetch_add(1, Ordering::Relaxed)).await;
        let refused = (
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable".to_string(),
        );
        assert_eq!(outcome, refused);
        let took = asked.elapsed();
        assert!(took < Duration::from_secs(1), "a refusal took {took:?}");
    }
    message
}

/// Waits until `/readyz` is ready again, without any write meanwhile, then posts an event
/// (which must be stored); returns the times from `freed` to both.
async fn wait_for_recovery(
    client: &Client,
    path: &str,
    seq: u64,
    freed: Instant,
    data_dir: &Path,
) -> (Duration, Duration) {
    let ready = loop {
        let (status, message) = readyz(client).await;
        if status == StatusCode::OK {
            break freed.elapsed();
        }
        if freed.elapsed() > Duration::from_secs(30) {
            panic!(
                "/readyz still unready 30 s after space was freed ({message}); RocksDB's \
                 log:\n{}",
                rocksdb_log(data_dir)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(post(client, path, seq).await.0, StatusCode::OK);
    let took = freed.elapsed();
    assert_eq!(client.metric("inlet_store_writable").await, 1.0);
    (ready, took)
}

#[tokio::test]
async fn a_full_disk_loses_nothing_is_visible_and_recovers_by_itself() {
    let Some(tmpfs) = Tmpfs::mount(TMPFS_MIB) else {
        eprintln!("full_disk: skipped, mounting a tmpfs needs root");
        return;
    };
    let data_dir = tmpfs.mount.join("data");
    let filler = tmpfs.mount.join("filler");
    let reserve = data_dir.join("store").join("SPACE-RESERVE");
    let mut server = start(&data_dir).await;
    let mut client = Client::new(server.addr);
    let (project, mask) = client
        .incoming_source(json!({"name": "s", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    let path = format!("/ingest/{mask}");
    assert_eq!(post(&client, &path, 0).await.0, StatusCode::OK);
    let mut acked = BTreeSet::from([0]);
    assert_eq!(readyz(&client).await.0, StatusCode::OK);
    let inlet_before = used(&data_dir);
    let next = Arc::new(AtomicU64::new(1));

    // Filled under load: every acknowledged event is stored, and nothing else.
    fill(&filler, LEFT_FREE);
    let first = load_until_refused(&client, &path, &next).await;
    acked.extend(&first.acked);
    let unready = assert_full(&client, &path, &next).await;
    assert_eq!(
        stored(&client, &project).await,
        acked,
        "once the disk filled"
    );

    // Space freed (the filler shortened): writes come back without a restart.
    let filler_len = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(filler_len - FREED)
        .unwrap();
    let seq = next.fetch_add(1, Ordering::Relaxed);
    let (first_ready, first_2xx) =
        wait_for_recovery(&client, &path, seq, Instant::now(), &data_dir).await;
    acked.insert(seq);

    // Filled again, then restarted on a disk full to the last byte (a failed flush may
    // leave room, which the filler now takes): the store opens, releasing its reserve.
    let second = load_until_refused(&client, &path, &next).await;
    acked.extend(&second.acked);
    assert_full(&client, &path, &next).await;
    server.shutdown().await.unwrap();
    fill(&filler, 0);
    let restart_started = Instant::now();
    server = start(&data_dir).await;
    let restart_took = restart_started.elapsed();
    client = Client::new(server.addr);
    let reserve_after_restart = std::fs::metadata(&reserve).map_or(0, |m| m.len());
    assert!(
        reserve_after_restart < RESERVE_BYTES,
        "the store opened on the full disk without releasing its reserve"
    );
    assert_eq!(stored(&client, &project).await, acked, "after the restart");
    let refused = (
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable".to_string(),
    );
    let seq = next.fetch_add(1, Ordering::Relaxed);
    assert_eq!(post(&client, &path, seq).await, refused);
    assert_full(&client, &path, &next).await;

    // The filler deleted: writes come back, and everything acknowledged is there.
    let store_used = used(&data_dir.join("store"));
    let filler_bytes = std::fs::metadata(&filler).unwrap().len();
    std::fs::remove_file(&filler).unwrap();
    let seq = next.fetch_add(1, Ordering::Relaxed);
    let (last_ready, last_2xx) =
        wait_for_recovery(&client, &path, seq, Instant::now(), &data_dir).await;
    acked.insert(seq);
    for _ in 0..50 {
        let seq = next.fetch_add(1, Ordering::Relaxed);
        assert_eq!(post(&client, &path, seq).await.0, StatusCode::OK);
        acked.insert(seq);
    }
    assert_eq!(stored(&client, &project).await, acked, "after the recovery");
    let reserve_at_end = std::fs::metadata(&reserve).map_or(0, |m| m.len());
    server.shutdown().await.unwrap();

    eprintln!(
        "full_disk: tmpfs {TMPFS_MIB} MiB; Inlet took {:.1} MiB before the load (the 64 MiB \
         reserve included); events of {} KiB, {CONCURRENCY} at a time. First fill ({:.0} MiB \
         free): {} events acknowledged, first 503 after {:.2} s, {} refused; {:.0} MiB freed: \
         /readyz ready after {:.2} s, first 2xx after {:.2} s. Second fill: {} acknowledged, \
         first 503 after {:.2} s. Restart on the full disk (filler {:.1} MiB) took {:.2} s, \
         reserve then {:.1} MiB (store {:.1} MiB with it). Filler deleted: /readyz ready \
         after {:.2} s, first 2xx after {:.2} s. All {} acknowledged events read back after \
         each fill, the restart and the recovery; reserve at the end {:.1} MiB",
        mib(inlet_before),
        BODY_BYTES >> 10,
        mib(LEFT_FREE),
        first.acked.len(),
        first.first_503.as_secs_f64(),
        first.refused,
        mib(FREED),
        first_ready.as_secs_f64(),
        first_2xx.as_secs_f64(),
        second.acked.len(),
        second.first_503.as_secs_f64(),
        mib(filler_bytes),
        restart_took.as_secs_f64(),
        mib(reserve_after_restart),
        mib(store_used),
        last_ready.as_secs_f64(),
        last_2xx.as_secs_f64(),
        acked.len(),
        mib(reserve_at_end),
    );
    eprintln!("full_disk: /readyz said: {unready}");
    drop(tmpfs);
}
