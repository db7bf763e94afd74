//! The durable store: one embedded RocksDB holding configuration and events.
//!
//! Reads go straight to RocksDB. Every write goes through the group-commit [`writer`], which
//! batches whatever is waiting into one `WriteBatch` and syncs the write-ahead log once for
//! all of it; a caller is answered only after that sync. Key layout: `docs/ARCHITECTURE.md`;
//! it is private to this crate: callers store and read records, never keys.

mod delivery;
mod jobs;
mod reserve;
mod retention;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rocksdb::compaction_filter::Decision as CompactionDecision;
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, ReadOptions,
};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

pub use delivery::{AttemptRecord, DeliveryQuery, EndpointScan, Queued, QueuedEndpoint};
use inlet_metrics::Metrics;
use inlet_model::{DeadLetter, Event, Project, RawEncoding, Source, rfc3339, with_secrets_exposed};
pub use jobs::{BulkJob, JOB_PAGE, JobStatus, JobWork, NotRequeued, Requeued};
pub use reserve::RESERVE_BYTES;
use writer::{Change, Job, Prepared, Write, WriteState};
pub use writer::{Incoming, Receipt, Record, Stored};

/// Length of every uid (a ULID string); keys are built from fixed-length uids.
const UID_LEN: usize = 26;

/// The column families. Names are stable on-disk identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Cf {
    /// `admin_token_sha256` → hash of the generated admin token; `plugin_cache_mac_key` →
    /// the key that authenticates cached plugin machine code.
    Meta,
    /// project uid → project JSON.
    Projects,
    /// project uid ++ source uid → source JSON.
    Sources,
    /// mask id → project uid ++ source uid.
    SourceMasks,
    /// SHA-256 of an API key → project uid.
    ApiKeys,
    /// project uid ++ event uid → event JSON. ULIDs sort by time, so this is the time index.
    Events,
    /// source uid ++ event uid → project uid: the per-source time index.
    SourceEvents,
    /// project uid ++ idempotency key → event uid of the first event with that key.
    Idempotency,
    /// project uid ++ dead letter uid → dead letter JSON.
    DeadLetters,
    /// source uid ++ broker message id → uid of the event or dead letter it became. Kept
    /// [`RECEIPT_RETENTION`], then dropped by compaction.
    BrokerReceipts,
    /// source uid ++ `topic/partition` → the highest Kafka offset stored from it (i64,
    /// big-endian): what is at or below it is a redelivery.
    BrokerOffsets,
    /// project uid ++ endpoint uid → endpoint JSON.
    Endpoints,
    /// project uid ++ subscription uid → subscription JSON.
    Subscriptions,
    /// project uid ++ delivery uid → delivery JSON (without uid and creation time).
    Deliveries,
    /// project uid ++ event uid ++ delivery uid → nothing: an event's deliveries.
    EventDeliveries,
    /// endpoint uid ++ due time (ms since the epoch, u64 big-endian) ++ delivery uid →
    /// project uid: the deliveries waiting for an attempt, per endpoint in due order. An
    /// entry stays until the outcome of its attempt is stored, so after a crash what was in
    /// flight is due again at once.
    DeliveryQueue,
    /// project uid ++ delivery uid ++ attempt uid → attempt JSON.
    Attempts,
    /// project uid ++ job uid → job JSON: a bulk retry or replay and how far it has come.
    Jobs,
    /// project uid ++ endpoint uid → the endpoint's circuit and its recent success and
    /// failure counts (JSON), written with each attempt's outcome.
    EndpointHealth,
    /// source uid → the state its provider plugin keeps (JSON pairs), written only when
    /// the plugin answers a handshake; removed with the source.
    PluginState,
}

/// How long a broker receipt keeps a redelivery from being stored again: longer than any
/// broker can deliver a message again. SQS keeps one at most 14 days; a Pub/Sub
/// subscription keeps unacknowledged ones 7, but a topic may retain every message 31 days,
/// and a `Seek` of a subscription to a time in them delivers again what was acknowledged
/// (review L7). A receipt is stamped when the message is stored, after it was published,
/// so 31 days from it covers that; the 32nd allows for clocks that disagree. Without a
/// limit, receipts, one per message ever consumed, would grow without end. Kafka messages
/// have none: their offsets tell ([`Cf::BrokerOffsets`]).
pub const RECEIPT_RETENTION: Duration = Duration::from_secs(32 * 24 * 3600);

/// Size of a column family's memtable (RocksDB's default is 64 MiB). After writes failed for
/// lack of space, RocksDB resumes them by itself once this much is free (its
/// `SstFileManager` checks every 5 s), so it is also the room an operator must free.
pub const WRITE_BUFFER_BYTES: usize = 16 << 20;

/// Most write-ahead log kept before RocksDB flushes the column families that hold the oldest
/// of it. Without a limit (RocksDB's default is four times all memtables, 5.6 GiB over
/// eleven column families), a rarely written column family would keep gigabytes of log
/// alive, all of it to be replayed into table files, on disk, before the store can open.
/// With it, what an opening replays is at most this plus a memtable, which the
/// [`RESERVE_BYTES`] kept in the store's directory always has room for.
const MAX_WAL_BYTES: u64 = 32 << 20;

impl Cf {
    const ALL: [Cf; 20] = [
        Cf::Meta,
        Cf::Projects,
        Cf::Sources,
        Cf::SourceMasks,
        Cf::ApiKeys,
        Cf::Events,
        Cf::SourceEvents,
        Cf::Idempotency,
        Cf::DeadLetters,
        Cf::BrokerReceipts,
        Cf::BrokerOffsets,
        Cf::Endpoints,
        Cf::Subscriptions,
        Cf::Deliveries,
        Cf::EventDeliveries,
        Cf::DeliveryQueue,
        Cf::Attempts,
        Cf::Jobs,
        Cf::EndpointHealth,
        Cf::PluginState,
    ];

    /// Receipts and idempotency keys are looked up mostly to find them absent: a bloom
    /// filter answers that without reading their files.
    fn options(self) -> Options {
        let mut opts = Options::default();
        opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
        // A column family takes no compression from the database's options: without this,
        // every table was written uncompressed (RocksDB's default, Snappy, is not built in).
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        if matches!(self, Cf::BrokerReceipts | Cf::Idempotency) {
            let mut table = BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            opts.set_block_based_table_factory(&table);
        }
        if self == Cf::Idempotency {
            // Retention deletes keys one by one (`retention.rs`): a file that gathers many
            // of those tombstones is compacted by RocksDB, which gives their space back.
            opts.add_compact_on_deletion_collector_factory(1024, 512, 0.5);
        }
        if self == Cf::BrokerReceipts {
            opts.set_compaction_filter("expired_receipts", |_level, _key, value: &[u8]| {
                if receipt_expired(value, SystemTime::now()) {
                    CompactionDecision::Remove
                } else {
                    CompactionDecision::Keep
                }
            });
            // Every file is compacted at least daily, so expired receipts go even when the
            // column family sees few writes.
            opts.set_periodic_compaction_seconds(24 * 3600);
        }
        opts
    }

    fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Projects => "projects",
            Cf::Sources => "sources",
            Cf::SourceMasks => "source_masks",
            Cf::ApiKeys => "api_keys",
            Cf::Events => "events",
            Cf::SourceEvents => "source_events",
            Cf::Idempotency => "idempotency",
            Cf::DeadLetters => "dead_letters",
            Cf::BrokerReceipts => "broker_receipts",
            Cf::BrokerOffsets => "broker_offsets",
            Cf::Endpoints => "endpoints",
            Cf::Subscriptions => "subscriptions",
            Cf::Deliveries => "deliveries",
            Cf::EventDeliveries => "event_deliveries",
            Cf::DeliveryQueue => "delivery_queue",
            Cf::Attempts => "attempts",
            Cf::Jobs => "jobs",
            Cf::EndpointHealth => "endpoint_health",
            Cf::PluginState => "plugin_state",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the store writer has stopped")]
    Closed,
    /// A write that RocksDB refused: nothing of its batch was stored. RocksDB stops every
    /// write after a failed one until it has recovered ([`Store::health`]).
    #[error("the store cannot take writes: {0}")]
    Unwritable(rocksdb::Error),
    /// The project or source a write needs does not exist (any more): nothing was written.
    #[error("{0} not found")]
    Missing(&'static str),
}

impl StoreError {
    /// Whether it failed for lack of disk space.
    pub fn is_no_space(&self) -> bool {
        match self {
            StoreError::Rocks(e) | StoreError::Unwritable(e) => no_space(e),
            _ => false,
        }
    }
}

/// RocksDB's `NoSpace` status (ENOSPC) reads "No space left on device"; the Rust binding
/// only exposes the message.
fn no_space(e: &rocksdb::Error) -> bool {
    e.as_ref().contains("No space left on device")
}

/// Whether the store takes writes, as the writer last found.
#[derive(Debug, Clone)]
pub enum Health {
    Ready,
    /// RocksDB refused the last write; it refuses all until it has recovered. From a full
    /// disk it recovers by itself once [`WRITE_BUFFER_BYTES`] are free, and the writer, which
    /// tries an empty write every 100 ms meanwhile, then reports `Ready` again.
    Failing(WriteFailure),
    /// The writer has stopped: the store is closing.
    Closed,
}

#[derive(Debug, Clone)]
pub struct WriteFailure {
    /// When writes started failing.
    pub since: SystemTime,
    /// RocksDB's error for the latest refused write.
    pub error: String,
    /// Whether that is a full disk.
    pub no_space: bool,
}

impl Health {
    pub fn is_ready(&self) -> bool {
        matches!(self, Health::Ready)
    }
}

impl std::fmt::Display for Health {
    /// What an operator needs to know, e.g. for `/readyz`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Health::Ready => f.write_str("ready"),
            Health::Closed => f.write_str("the store writer has stopped"),
            Health::Failing(failure) => {
                write!(
                    f,
                    "writes fail since {} ({})",
                    rfc3339(failure.since.into()),
                    failure.error
                )?;
                if failure.no_space {
                    write!(
                        f,
                        "; the data directory's disk is full: writes resume by themselves \
                         once {} MiB are free",
                        WRITE_BUFFER_BYTES >> 20
                    )?;
                }
                Ok(())
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    db: Arc<DB>,
    jobs: mpsc::Sender<Job>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// What the writer tells readers after a commit.
    signals: Arc<Signals>,
    /// Whether writes fail, kept by the writer.
    writes: Arc<WriteState>,
    /// Each project's routes, compiled (see `delivery.rs`).
    routing: delivery::RoutingCache,
    /// Held by every requeue from its read of the deliveries to its commit (`jobs.rs`).
    requeues: std::sync::Mutex<()>,
}

/// Raised or notified by the writer after a commit, before any of its callers hears of it.
#[derive(Default)]
struct Signals {
    /// Rises after every committed change to a source ([`Store::sources_version`]).
    sources_version: AtomicU64,
    /// Rises after every committed change to a project, endpoint or subscription.
    routing_version: AtomicU64,
    /// Notified when deliveries became due ([`Store::deliveries_due`]).
    deliveries_due: tokio::sync::Notify,
    /// The queue entries committed since the delivery worker last asked, as the earliest
    /// due time per endpoint ([`Store::newly_queued`]).
    queued: std::sync::Mutex<std::collections::HashMap<String, QueuedEndpoint>>,
    /// Notified after a bulk job is created ([`Store::jobs_created`]).
    jobs_created: tokio::sync::Notify,
}

impl Signals {
    fn lock_queued(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, QueuedEndpoint>> {
        self.queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a committed queue entry, before the worker is woken.
    fn queued(&self, endpoint_id: &str, project_id: &str, due_ms: u64) {
        let mut queued = self.lock_queued();
        queued
            .entry(endpoint_id.to_string())
            .and_modify(|known| known.from_ms = known.from_ms.min(due_ms))
            .or_insert_with(|| QueuedEndpoint {
                project_id: project_id.to_string(),
                from_ms: due_ms,
            });
    }
}

const ADMIN_TOKEN_KEY: &[u8] = b"admin_token_sha256";
const PLUGIN_CACHE_MAC_KEY: &[u8] = b"plugin_cache_mac_key";

/// A page of a listing, newest first.
pub struct Page<T> {
    pub items: Vec<T>,
    /// The uid to pass as the cursor for the next (older) page, if there is one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    fn empty() -> Self {
        Self {
            items: Vec::new(),
            next_cursor: None,
        }
    }
}

/// What a listing made of one key: the item, if the listing keeps it, and the bytes of
/// stored records read to decide (they count towards [`PAGE_BYTES`] either way).
struct Loaded<T> {
    item: Option<T>,
    bytes: usize,
}

impl<T> Loaded<T> {
    fn filtered(item: T, bytes: usize, wanted: impl FnOnce(&T) -> bool) -> Self {
        Self {
            item: Some(item).filter(wanted),
            bytes,
        }
    }
}

/// What to list. Bounds are uids (ULIDs), so a time range is a key range. Kept with a bulk
/// job as the filter it runs over (without `per_page`: a job pages by its own size).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub source_id: Option<String>,
    /// Events only.
    pub event_type: Option<String>,
    /// Events only: just those stored with no delivery (no subscription matched them).
    pub unrouted: bool,
    /// Inclusive lower bound.
    pub from_uid: Option<String>,
    /// Exclusive upper bound (an end time or the cursor, whichever is lower).
    pub before_uid: Option<String>,
    #[serde(skip)]
    pub per_page: usize,
}

/// Bounds the work of one listing when a filter matches rarely: past this many keys the page
/// ends early and its cursor continues the scan.
const MAX_SCAN: usize = 10_000;

/// Most bytes of stored records one page reads: its items and the records its filters pass
/// over. Events weigh up to `--max-body-bytes` each (10 MiB by default), so `perPage` alone
/// (up to 1000) would let one page take gigabytes; with this, a page holds fewer items when
/// they are large (always at least one) and its cursor continues where it stopped.
const PAGE_BYTES: usize = 4 << 20;

impl Store {
    /// Opens (or creates) the store in `dir`. On a full disk it deletes its reserve of free
    /// space to make room for the opening, then writes it back as far as the disk allows
    /// (see `reserve.rs`).
    pub fn open(dir: &Path, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let cannot_open = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("cannot open the store at {}: {e}", dir.display())
        };
        std::fs::create_dir_all(dir).map_err(|e| cannot_open(&e))?;
        let reserve = reserve::Reserve::in_dir(dir);
        let db = match open_db(dir) {
            Ok(db) => db,
            Err(e) if no_space(&e) => {
                if !reserve.release().map_err(|e| cannot_open(&e))? {
                    return Err(cannot_open(&format!("{e}; free some space")));
                }
                tracing::warn!(
                    error = %e,
                    "the disk of the store is full: deleted the store's reserve of free space \
                     to open it"
                );
                open_db(dir).map_err(|e| cannot_open(&e))?
            }
            Err(e) => return Err(cannot_open(&e)),
        };
        match reserve.restore() {
            (_, None) => {}
            (size, Some(e)) => tracing::warn!(
                error = %e,
                reserve_mib = size >> 20,
                wanted_mib = RESERVE_BYTES >> 20,
                "the store's reserve of free space is short (it is topped up at the next start); \
                 a restart while the disk is full may fail to open the store"
            ),
        }
        let db = Arc::new(db);
        let signals = Arc::new(Signals::default());
        let writes = Arc::new(WriteState::default());
        let (jobs, writer) = writer::spawn(db.clone(), metrics, signals.clone(), writes.clone())?;
        Ok(Self {
            db,
            jobs,
            writer: Some(writer),
            signals,
            writes,
            routing: Default::default(),
            requeues: Default::default(),
        })
    }

    /// Stores an event durably and returns it as stored. The store assigns its `uid` (a ULID,
    /// increasing in commit order, so listing order is storage order) and `created_at`. When
    /// its idempotency key was seen before in the project, the event is stored flagged
    /// `is_duplicate_event`; the check and the write are atomic.
    pub async fn append_event(&self, event: Event) -> Result<Event> {
        let record = Incoming {
            record: Record::Event(event),
            receipt: None,
        };
        match self.append(vec![record]).await?.pop() {
            Some(Stored::Event(event)) => Ok(readable(event)),
            _ => unreachable!("an event without a receipt is always stored as an event"),
        }
    }

    /// Stores records durably, atomically and in order (their uids increase in the order
    /// given), and says what became of each: the event or dead letter as written, with its
    /// uid (not completed like [`Store::append_event`]'s: broker workers only count them).
    pub async fn append(&self, records: Vec<Incoming>) -> Result<Vec<Stored>> {
        self.append_records(records, None).await
    }

    /// Like [`Store::append`], for the records of a source that must still exist: refused
    /// with [`StoreError::Missing`] once the source or its project is deleted, so that a
    /// consumer still running then stores nothing more.
    pub async fn append_from_source(
        &self,
        project_id: &str,
        source_id: &str,
        records: Vec<Incoming>,
    ) -> Result<Vec<Stored>> {
        let source = key(project_id, source_id.as_bytes());
        self.append_records(records, Some(source)).await
    }

    async fn append_records(
        &self,
        records: Vec<Incoming>,
        source: Option<Vec<u8>>,
    ) -> Result<Vec<Stored>> {
        let records = self.prepare(records)?;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Records {
            records,
            source,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Routed and serialized here, on the caller's task: the writer, which every write
    /// waits for, then only assigns keys.
    fn prepare(&self, records: Vec<Incoming>) -> Result<Vec<Prepared>> {
        records
            .into_iter()
            .map(|incoming| {
                let routes = match &incoming.record {
                    Record::Event(event) => self.routes(event)?,
                    Record::DeadLetter(_) => Vec::new(),
                };
                Prepared::new(incoming, routes)
            })
            .collect()
    }

    /// Applies configuration changes atomically and durably.
    async fn commit(&self, changes: Vec<Change>) -> Result<()> {
        self.commit_causing(changes, Vec::new()).await
    }

    /// Applies changes and stores the events they caused (routed as any event) in one
    /// write: none of those events is lost to a crash after the changes.
    async fn commit_causing(&self, changes: Vec<Change>, caused: Vec<Event>) -> Result<()> {
        let caused = caused
            .into_iter()
            .map(|event| Incoming {
                record: Record::Event(event),
                receipt: None,
            })
            .collect();
        let caused = self.prepare(caused)?;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Changes {
            changes,
            caused,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The hash of the generated admin token, if one was generated.
    pub fn admin_token_hash(&self) -> Result<Option<Vec<u8>>> {
        self.get_raw(Cf::Meta, ADMIN_TOKEN_KEY)
    }

    pub async fn set_admin_token_hash(&self, hash: &[u8]) -> Result<()> {
        let change = Change::put(Cf::Meta, ADMIN_TOKEN_KEY.to_vec(), hash.to_vec());
        self.commit(vec![change]).await
    }

    /// Forgets the generated admin token (a configured one replaces it).
    pub async fn clear_admin_token_hash(&self) -> Result<()> {
        let change = Change::delete(Cf::Meta, ADMIN_TOKEN_KEY.to_vec());
        self.commit(vec![change]).await
    }

    /// The key that authenticates the plugin machine code Inlet caches: random, made at
    /// the first start, and kept in the store rather than beside the cache, so that write
    /// access to the cache alone cannot make Inlet run native code.
    pub async fn plugin_cache_mac_key(&self) -> Result<[u8; 32]> {
        if let Some(key) = self.get_raw(Cf::Meta, PLUGIN_CACHE_MAC_KEY)?
            && let Ok(key) = <[u8; 32]>::try_from(key.as_slice())
        {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        let change = Change::put(Cf::Meta, PLUGIN_CACHE_MAC_KEY.to_vec(), key.to_vec());
        self.commit(vec![change]).await?;
        Ok(key)
    }

    /// Stores a new project, with the hash of its API key (outgoing projects).
    pub async fn create_project(
        &self,
        project: &Project,
        api_key_hash: Option<&[u8]>,
    ) -> Result<()> {
        let mut changes = vec![put_project(project)?];
        if let Some(hash) = api_key_hash {
            changes.push(api_key(hash, &project.uid));
        }
        self.commit(changes).await
    }

    pub async fn update_project(&self, project: &Project) -> Result<()> {
        self.commit(vec![put_project(project)?]).await
    }

    /// Replaces every API key of a project with the one of this hash; refused with
    /// [`StoreError::Missing`] when the project is gone.
    pub async fn replace_api_key(&self, project_id: &str, hash: &[u8]) -> Result<()> {
        let mut changes = vec![Change::Require(
            Cf::Projects,
            project_id.as_bytes().to_vec(),
        )];
        changes.extend(self.api_key_removals(project_id)?);
        changes.push(api_key(hash, project_id));
        self.commit(changes).await
    }

    /// Deletes a project with everything it owns: sources, API keys, events and indexes.
    /// The writer finds the sources when it deletes them, so a source created meanwhile
    /// goes too (and one created after is refused: [`Store::create_source`]).
    pub async fn delete_project(&self, project_id: &str) -> Result<()> {
        let uid = project_id.as_bytes().to_vec();
        let mut changes = vec![
            Change::delete(Cf::Projects, uid.clone()),
            Change::DeleteSourcesOf(uid.clone()),
            Change::delete_prefix(Cf::Events, uid.clone()),
            Change::delete_prefix(Cf::Idempotency, uid.clone()),
            Change::delete_prefix(Cf::DeadLetters, uid.clone()),
            Change::delete_prefix(Cf::Endpoints, uid.clone()),
            Change::delete_prefix(Cf::Subscriptions, uid.clone()),
            Change::delete_prefix(Cf::Deliveries, uid.clone()),
            Change::delete_prefix(Cf::EventDeliveries, uid.clone()),
            Change::delete_prefix(Cf::Attempts, uid.clone()),
            Change::delete_prefix(Cf::Jobs, uid.clone()),
            Change::delete_prefix(Cf::EndpointHealth, uid),
        ];
        changes.extend(self.api_key_removals(project_id)?);
        self.commit(changes).await
    }

    /// Stores a new source, and the index from its mask id to it, in the same write that
    /// checks its project exists: refused with [`StoreError::Missing`] when it is gone.
    pub async fn create_source(&self, source: &Source) -> Result<()> {
        let project = source.project_id.as_bytes().to_vec();
        self.put_source(source, Change::Require(Cf::Projects, project))
            .await
    }

    /// Stores a changed source, in the same write that checks it still exists: refused
    /// with [`StoreError::Missing`] when it (or its project) was deleted meanwhile.
    pub async fn update_source(&self, source: &Source) -> Result<()> {
        self.put_source(source, Change::Require(Cf::Sources, source_key(source)))
            .await
    }

    async fn put_source(&self, source: &Source, requirement: Change) -> Result<()> {
        let key = source_key(source);
        let value = with_secrets_exposed(|| serde_json::to_vec(source))?;
        let mut changes = vec![requirement, Change::put(Cf::Sources, key.clone(), value)];
        if source.kind == inlet_model::SourceType::Http {
            changes.push(Change::put(
                Cf::SourceMasks,
                source.mask_id.clone().into_bytes(),
                key,
            ));
        }
        self.commit(changes).await
    }

    /// Deletes a source and the indexes that point at it; its events and dead letters stay
    /// listed under the project.
    pub async fn delete_source(&self, source: &Source) -> Result<()> {
        let mut changes = vec![Change::delete(Cf::Sources, source_key(source))];
        changes.extend(source_index_removals(source).map(Change::Write));
        self.commit(changes).await
    }

    /// The state a source's provider plugin keeps: empty until the plugin first keeps some.
    pub fn plugin_state(&self, source_uid: &str) -> Result<Vec<(String, String)>> {
        Ok(self
            .get_json(Cf::PluginState, source_uid.as_bytes())?
            .unwrap_or_default())
    }

    /// Replaces the state a source's provider plugin keeps, in the same write that checks
    /// the source exists (a source deleted meanwhile leaves no state behind).
    pub async fn set_plugin_state(
        &self,
        source: &Source,
        state: &[(String, String)],
    ) -> Result<()> {
        let value = serde_json::to_vec(state)?;
        self.commit(vec![
            Change::Require(Cf::Sources, source_key(source)),
            Change::put(Cf::PluginState, source.uid.clone().into_bytes(), value),
        ])
        .await
    }

    /// Rises after every committed change to a source: a cache of sources filled at
    /// version `v` is current while this still says `v`.
    pub fn sources_version(&self) -> u64 {
        self.signals.sources_version.load(Ordering::Acquire)
    }

    /// Rises after every committed change to a project, endpoint or subscription: a cache
    /// of them filled at version `v` is current while this still says `v`.
    pub fn routing_version(&self) -> u64 {
        self.signals.routing_version.load(Ordering::Acquire)
    }

    fn api_key_removals(&self, project_id: &str) -> Result<Vec<Change>> {
        Ok(self
            .key_hashes_of(project_id)?
            .into_iter()
            .map(|hash| Change::delete(Cf::ApiKeys, hash))
            .collect())
    }

    async fn send(&self, job: Job) -> Result<()> {
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)
    }

    /// Whether the store can take writes.
    pub fn is_ready(&self) -> bool {
        self.health().is_ready()
    }

    /// Whether the store takes writes, and if not, why.
    pub fn health(&self) -> Health {
        if self.jobs.is_closed() {
            return Health::Closed;
        }
        match self.writes.failure() {
            Some(failure) => Health::Failing(failure),
            None => Health::Ready,
        }
    }

    fn get_raw(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    fn get_json<T: DeserializeOwned>(&self, cf: Cf, key: &[u8]) -> Result<Option<T>> {
        match self.db.get_pinned_cf(self.cf(cf), key)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every value under `prefix`, in key order.
    fn scan_json<T: DeserializeOwned>(&self, cf: Cf, prefix: &[u8]) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(prefix, Direction::Forward))
        {
            let (key, value) = item?;
            if !key.starts_with(prefix) {
                break;
            }
            out.push(serde_json::from_slice(&value)?);
        }
        Ok(out)
    }

    pub fn project(&self, uid: &str) -> Result<Option<Project>> {
        self.get_json(Cf::Projects, uid.as_bytes())
    }

    pub fn projects(&self) -> Result<Vec<Project>> {
        self.scan_json(Cf::Projects, b"")
    }

    pub fn source(&self, project_id: &str, source_id: &str) -> Result<Option<Source>> {
        self.get_json(Cf::Sources, &key(project_id, source_id.as_bytes()))
    }

    pub fn sources(&self, project_id: &str) -> Result<Vec<Source>> {
        self.scan_json(Cf::Sources, project_id.as_bytes())
    }

    pub fn source_by_mask(&self, mask_id: &str) -> Result<Option<Source>> {
        match self.get_raw(Cf::SourceMasks, mask_id.as_bytes())? {
            Some(source_key) => self.get_json(Cf::Sources, &source_key),
            None => Ok(None),
        }
    }

    /// The project an API key (given by its SHA-256) belongs to.
    pub fn project_for_key_hash(&self, hash: &[u8]) -> Result<Option<String>> {
        Ok(self
            .get_raw(Cf::ApiKeys, hash)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The API-key hashes that belong to a project.
    fn key_hashes_of(&self, project_id: &str) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(Cf::ApiKeys), IteratorMode::Start)
        {
            let (hash, project) = item?;
            if *project == *project_id.as_bytes() {
                out.push(hash.to_vec());
            }
        }
        Ok(out)
    }

    pub fn event(&self, project_id: &str, event_id: &str) -> Result<Option<Event>> {
        match self
            .db
            .get_pinned_cf(self.cf(Cf::Events), key(project_id, event_id.as_bytes()))?
        {
            Some(bytes) => Ok(Some(read_event(event_id, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Lists a project's events, newest first, by walking a time-ordered index backwards.
    pub fn list_events(&self, project_id: &str, query: &ListQuery) -> Result<Page<Event>> {
        let wanted = |event: &Event| {
            query
                .event_type
                .as_ref()
                .is_none_or(|t| *t == event.event_type)
        };
        match &query.source_id {
            Some(source) => {
                // Only a source of this project has its index walked: every key there, the
                // cursor included, is then one of the project's events. Another project's
                // source lists nothing, not even a cursor of its events (review L1).
                if self.source(project_id, source)?.is_none() {
                    return Ok(Page::empty());
                }
                let events = self.cf(Cf::Events);
                self.walk_back(Cf::SourceEvents, source, query, |uid, _| {
                    match self
                        .db
                        .get_pinned_cf(events, key(project_id, uid.as_bytes()))?
                    {
                        Some(bytes) => {
                            let event = read_event(uid, &bytes)?;
                            let routed = self.routed(query, project_id, uid)?;
                            Ok(Loaded::filtered(event, bytes.len(), |e| {
                                !routed && wanted(e)
                            }))
                        }
                        None => Ok(Loaded {
                            item: None,
                            bytes: 0,
                        }),
                    }
                })
            }
            None => self.walk_back(Cf::Events, project_id, query, |uid, value| {
                let event = read_event(uid, value)?;
                let routed = self.routed(query, project_id, uid)?;
                Ok(Loaded::filtered(event, value.len(), |e| {
                    !routed && wanted(e)
                }))
            }),
        }
    }

    /// Lists a project's dead letters, newest first.
    pub fn list_dead_letters(
        &self,
        project_id: &str,
        query: &ListQuery,
    ) -> Result<Page<DeadLetter>> {
        self.walk_back(Cf::DeadLetters, project_id, query, |uid, value| {
            let mut letter: DeadLetter = serde_json::from_slice(value)?;
            letter.created_at = created_at(uid);
            letter.uid = uid.to_string();
            Ok(Loaded::filtered(letter, value.len(), |l| {
                query.source_id.as_ref().is_none_or(|s| *s == l.source_id)
            }))
        })
    }

    /// Walks `prefix ++ uid` keys from the newest down, keeping what `load` returns, until
    /// a page is full (`perPage` items, or [`PAGE_BYTES`] read) or `MAX_SCAN` keys were
    /// read. A page that stops early continues, by its cursor, below the last key it read:
    /// a key under `prefix`.
    fn walk_back<T>(
        &self,
        cf: Cf,
        prefix: &str,
        query: &ListQuery,
        mut load: impl FnMut(&str, &[u8]) -> Result<Loaded<T>>,
    ) -> Result<Page<T>> {
        let lower = key(prefix, query.from_uid.as_deref().unwrap_or("").as_bytes());
        let upper = match &query.before_uid {
            Some(before) => key(prefix, before.as_bytes()),
            None => key(prefix, &[0xff]),
        };
        // A range that ends where it starts or before (a cursor at or below `startDate`) is
        // empty; RocksDB does not support a lower bound above the upper one.
        if lower >= upper {
            return Ok(Page::empty());
        }
        let mut opts = ReadOptions::default();
        opts.set_iterate_lower_bound(lower);
        opts.set_iterate_upper_bound(upper);
        let mut items = Vec::new();
        let mut read = 0;
        let mut last_scanned = None;
        for (scanned, item) in self
            .db
            .iterator_cf_opt(self.cf(cf), opts, IteratorMode::End)
            .enumerate()
        {
            let (k, v) = item?;
            let uid = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if scanned == MAX_SCAN || read >= PAGE_BYTES {
                return Ok(Page {
                    items,
                    next_cursor: last_scanned,
                });
            }
            let loaded = load(&uid, &v)?;
            read += loaded.bytes;
            if let Some(found) = loaded.item {
                // At least one item, however large; the one that does not fit starts the
                // next page.
                if items.len() == query.per_page || (!items.is_empty() && read > PAGE_BYTES) {
                    return Ok(Page {
                        items,
                        next_cursor: last_scanned,
                    });
                }
                items.push(found);
            }
            last_scanned = Some(uid);
        }
        Ok(Page {
            items,
            next_cursor: None,
        })
    }

    fn cf(&self, cf: Cf) -> &rocksdb::ColumnFamily {
        cf_handle(&self.db, cf)
    }
}

impl Drop for Store {
    /// Closes the job queue and waits for the writer to finish what it holds, so that once a
    /// `Store` is gone every accepted write is on disk and the database can be opened again.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn open_db(dir: &Path) -> std::result::Result<DB, rocksdb::Error> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_total_wal_size(MAX_WAL_BYTES);
    // RocksDB's default column family, unused, is opened too; given no options, it would
    // have the default memtable, and RocksDB would wait for that much free space (64 MiB)
    // to resume writes.
    let mut unused = Options::default();
    unused.set_write_buffer_size(WRITE_BUFFER_BYTES);
    let default = ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, unused);
    let cfs = Cf::ALL.map(|cf| ColumnFamilyDescriptor::new(cf.name(), cf.options()));
    DB::open_cf_descriptors(&opts, dir, cfs.into_iter().chain([default]))
}

/// An event as stored under `uid`, made [`readable`].
fn read_event(uid: &str, bytes: &[u8]) -> Result<Event> {
    let mut event: Event = serde_json::from_slice(bytes)?;
    event.uid = uid.to_string();
    Ok(readable(event))
}

/// A stored event as the API shows it: with its creation time, and `raw` restored when it
/// was left out as the text of `data`.
fn readable(mut event: Event) -> Event {
    event.created_at = created_at(&event.uid);
    if event.raw_encoding == RawEncoding::Data {
        event.raw = event.data.get().to_string();
        event.raw_encoding = RawEncoding::Utf8;
    }
    event
}

/// When an event or dead letter was stored: the time of its uid, a ULID the writer takes at
/// the write. Stored values leave it out (values stored before held the same).
fn created_at(uid: &str) -> String {
    ulid::Ulid::from_string(uid)
        .map(|uid| rfc3339(uid.datetime().into()))
        .unwrap_or_default()
}

/// Whether a receipt (whose value is a ULID, stamped when it was stored) is past
/// [`RECEIPT_RETENTION`]. A value that is not a ULID is kept.
fn receipt_expired(value: &[u8], now: SystemTime) -> bool {
    let stored = std::str::from_utf8(value)
        .ok()
        .and_then(|uid| ulid::Ulid::from_string(uid).ok())
        .map(|uid| uid.datetime());
    stored.is_some_and(|stored| stored + RECEIPT_RETENTION < now)
}

fn cf_handle(db: &DB, cf: Cf) -> &rocksdb::ColumnFamily {
    db.cf_handle(cf.name())
        .expect("every column family is created when the store opens")
}

fn put_project(project: &Project) -> Result<Change> {
    let value = serde_json::to_vec(project)?;
    Ok(Change::put(
        Cf::Projects,
        project.uid.clone().into_bytes(),
        value,
    ))
}

fn api_key(hash: &[u8], project_id: &str) -> Change {
    Change::put(Cf::ApiKeys, hash.to_vec(), project_id.as_bytes().to_vec())
}

fn source_key(source: &Source) -> Vec<u8> {
    key(&source.project_id, source.uid.as_bytes())
}

/// The index entries that point at a source.
fn source_index_removals(source: &Source) -> [Write; 5] {
    let uid = || source.uid.clone().into_bytes();
    [
        Write::Delete(Cf::SourceMasks, source.mask_id.clone().into_bytes()),
        Write::Delete(Cf::PluginState, uid()),
        Write::DeletePrefix(Cf::SourceEvents, uid()),
        Write::DeletePrefix(Cf::BrokerReceipts, uid()),
        Write::DeletePrefix(Cf::BrokerOffsets, uid()),
    ]
}

/// A delivery's place in the queue: `endpoint uid ++ due ms ++ delivery uid`.
fn queue_key(endpoint_id: &str, due_ms: u64, delivery_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 * UID_LEN + 8);
    k.extend_from_slice(endpoint_id.as_bytes());
    k.extend_from_slice(&due_ms.to_be_bytes());
    k.extend_from_slice(delivery_id.as_bytes());
    k
}

/// `prefix ++ suffix`: the composite keys of the layout.
fn key(prefix: &str, suffix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + suffix.len());
    k.extend_from_slice(prefix.as_bytes());
    k.extend_from_slice(suffix);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(at: SystemTime) -> String {
        ulid::Ulid::from_datetime(at).to_string()
    }

    #[test]
    fn receipts_expire_after_the_retention() {
        let now = SystemTime::now();
        let minute = Duration::from_secs(60);
        assert!(!receipt_expired(stamped(now).as_bytes(), now));
        let recent = stamped(now - RECEIPT_RETENTION + minute);
        assert!(!receipt_expired(recent.as_bytes(), now));
        let old = stamped(now - RECEIPT_RETENTION - minute);
        assert!(receipt_expired(old.as_bytes(), now));
        assert!(!receipt_expired(b"not a ulid", now));
    }

    #[test]
    fn every_column_family_compresses_its_tables() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        // JSON as webhooks are: repeated keys and values around a few varying ones.
        let value = |n: usize| {
            format!(
                r#"{{"id":"evt_{n:024}","type":"order.updated","data":{{"object":{{"currency":"usd","status":"paid","amount":{n},"customer":{{"email":"customer{n}@example.com"}}}}}}}}"#
            )
        };
        for cf in Cf::ALL {
            let handle = store.cf(cf);
            let mut raw = 0;
            for n in 0..2000 {
                let (k, v) = (format!("{n:052}"), value(n));
                raw += k.len() + v.len();
                store.db.put_cf(handle, k, v).unwrap();
            }
            store.db.flush_cf(handle).unwrap();
            let stored: usize = store
                .db
                .live_files()
                .unwrap()
                .iter()
                .filter(|file| file.column_family_name == cf.name())
                .map(|file| file.size)
                .sum();
            assert!(
                stored * 2 < raw,
                "{}: {stored} bytes on disk for {raw} written",
                cf.name()
            );
        }
    }

    #[test]
    fn compaction_drops_expired_receipts_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let cf = store.cf(Cf::BrokerReceipts);
        let now = SystemTime::now();
        let old = stamped(now - RECEIPT_RETENTION - Duration::from_secs(3600));
        store.db.put_cf(cf, b"expired", old).unwrap();
        store.db.put_cf(cf, b"recent", stamped(now)).unwrap();
        store.db.flush_cf(cf).unwrap();
        store.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        assert!(store.db.get_cf(cf, b"expired").unwrap().is_none());
        assert!(store.db.get_cf(cf, b"recent").unwrap().is_some());
    }

    /// Outcomes of storing, in one job, a dead letter of source `s1` per receipt.
    async fn put_receipts(store: &Store, receipts: Vec<Receipt>) -> Vec<&'static str> {
        let records = receipts
            .into_iter()
            .map(|receipt| Incoming {
                record: Record::DeadLetter(DeadLetter {
                    uid: String::new(),
                    project_id: "p1".into(),
                    source_id: "s1".into(),
                    reason: "test".into(),
                    raw: String::new(),
                    raw_encoding: RawEncoding::Utf8,
                    broker: Default::default(),
                    created_at: String::new(),
                }),
                receipt: Some(receipt),
            })
            .collect();
        let stored = store.append(records).await.unwrap();
        stored
            .iter()
            .map(|outcome| match outcome {
                Stored::Redelivered => "again",
                _ => "stored",
            })
            .collect()
    }

    /// Outcomes of storing, in one job, a dead letter per (partition, offset) of topic `t`.
    async fn put_offsets(store: &Store, positions: &[(i32, i64)]) -> Vec<&'static str> {
        let receipts = positions
            .iter()
            .map(|&(partition, offset)| Receipt::Offset {
                log: format!("t/{partition}"),
                offset,
            })
            .collect();
        put_receipts(store, receipts).await
    }

    /// A Pub/Sub topic may deliver a message again 31 days after it (a `Seek`): a receipt
    /// of 20 days ago survives compaction and still recognises it (review L7; receipts
    /// went after 15 days).
    #[tokio::test]
    async fn a_receipt_within_a_topics_retention_still_recognises_a_redelivery() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let cf = store.cf(Cf::BrokerReceipts);
        let days_ago = |days: u64| SystemTime::now() - Duration::from_secs(days * 24 * 3600);
        store
            .db
            .put_cf(cf, b"s1m-20", stamped(days_ago(20)))
            .unwrap();
        store
            .db
            .put_cf(cf, b"s1m-33", stamped(days_ago(33)))
            .unwrap();
        store.db.flush_cf(cf).unwrap();
        store.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        let receipts = vec![Receipt::Id("m-20".into()), Receipt::Id("m-33".into())];
        assert_eq!(put_receipts(&store, receipts).await, ["again", "stored"]);
    }

    #[tokio::test]
    async fn a_kafka_offset_at_or_below_the_highest_stored_is_a_redelivery() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let store = Store::open(dir.path(), metrics.clone()).unwrap();
        let outcomes = put_offsets(&store, &[(0, 5), (0, 6), (1, 3), (0, 6)]).await;
        assert_eq!(outcomes, ["stored", "stored", "stored", "again"]);
        let outcomes = put_offsets(&store, &[(0, 4), (0, 6), (0, 7), (1, 3), (1, 4)]).await;
        assert_eq!(outcomes, ["again", "again", "stored", "again", "stored"]);
        // Two workers with the same message (a rebalance): in one batch or two, one stores it.
        let (a, b) = tokio::join!(
            put_offsets(&store, &[(3, 1)]),
            put_offsets(&store, &[(3, 1)])
        );
        let mut both = [a[0], b[0]];
        both.sort();
        assert_eq!(both, ["again", "stored"]);
        drop(store);
        let store = Store::open(dir.path(), metrics).unwrap();
        let outcomes = put_offsets(&store, &[(0, 7), (1, 4), (2, 0)]).await;
        assert_eq!(outcomes, ["again", "again", "stored"]);
    }

    fn event_of(project: &str, data: serde_json::Value) -> Event {
        serde_json::from_value(serde_json::json!({
            "event_type": "t", "project_id": project, "endpoint_id": "e1",
            "data": data, "raw": "", "raw_encoding": "data"
        }))
        .unwrap()
    }

    /// A filter that matches nothing reads at most `PAGE_BYTES` of events per page (M7):
    /// six events of 1 MiB take two empty pages, the first with a cursor.
    #[tokio::test]
    async fn a_filtered_page_stops_after_its_byte_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let pad = "x".repeat(1 << 20);
        for n in 0..6 {
            let event = event_of("p1", serde_json::json!({"n": n, "pad": pad}));
            store.append_event(event).await.unwrap();
        }
        let mut query = ListQuery {
            event_type: Some("nope".into()),
            per_page: 100,
            ..Default::default()
        };
        let first = store.list_events("p1", &query).unwrap();
        assert!(first.items.is_empty());
        query.before_uid = Some(first.next_cursor.expect("the scan stopped early"));
        let second = store.list_events("p1", &query).unwrap();
        assert!(second.items.is_empty() && second.next_cursor.is_none());
    }

    /// Listing with another project's source gives no cursor, even once that source has
    /// more events than one page scans (review L1: the cursor was the other project's event
    /// uid, with its time).
    #[tokio::test]
    async fn another_projects_source_lists_nothing_and_no_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let theirs = project();
        store.create_project(&theirs, None).await.unwrap();
        let source = http_source(&theirs);
        store.create_source(&source).await.unwrap();
        let records = (0..=MAX_SCAN)
            .map(|n| {
                let mut event = event_of(&theirs.uid, serde_json::json!({"n": n}));
                event.source_id = source.uid.clone();
                Incoming {
                    record: Record::Event(event),
                    receipt: None,
                }
            })
            .collect();
        store.append(records).await.unwrap();
        let query = ListQuery {
            source_id: Some(source.uid.clone()),
            per_page: 10,
            ..Default::default()
        };
        let page = store.list_events("p1", &query).unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.next_cursor, None);
        let listed = store.list_events(&theirs.uid, &query).unwrap();
        assert_eq!(listed.items.len(), 10);
    }

    #[tokio::test]
    async fn an_event_reads_back_its_uid_and_time_from_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let event = event_of("p1", serde_json::json!({"n": 1}));
        let stored = store.append_event(event).await.unwrap();
        assert_eq!(stored.uid.len(), UID_LEN);
        let value = store
            .get_raw(Cf::Events, &key("p1", stored.uid.as_bytes()))
            .unwrap()
            .unwrap();
        let value = String::from_utf8(value).unwrap();
        assert!(!value.contains(&stored.uid) && !value.contains("created_at"));
        let read = store.event("p1", &stored.uid).unwrap().unwrap();
        assert_eq!(
            (&read.uid, &read.created_at, &read.raw),
            (&stored.uid, &stored.created_at, &stored.raw)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_that_wait_for_a_sync_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let store = Arc::new(Store::open(dir.path(), metrics.clone()).unwrap());
        let event: Event = serde_json::from_value(serde_json::json!({
            "event_type": "t", "project_id": "p1", "endpoint_id": "e1",
            "data": {"n": 1}, "raw": "", "raw_encoding": "data"
        }))
        .unwrap();
        // 200 writes queued faster than one sync takes: whatever else runs on the machine,
        // the writer syncs the first and finds the others waiting when it is done. One
        // sync per write (no group commit) makes 200 batches.
        let mut writes = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (store, event) = (store.clone(), event.clone());
            writes.spawn(async move { store.append_event(event).await.map(|_| ()) });
        }
        while let Some(written) = writes.join_next().await {
            written.unwrap().unwrap();
        }
        let text = metrics.encode();
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
                .unwrap_or_else(|| panic!("{name} missing from {text}"))
        };
        let (jobs, batches) = (
            value("inlet_store_batch_jobs_sum"),
            value("inlet_store_batch_jobs_count"),
        );
        assert_eq!(jobs, 200.0);
        assert!(
            batches <= 40.0,
            "200 writes took {batches} syncs: fewer than 5 writes per sync"
        );
    }

    fn project() -> Project {
        Project {
            uid: inlet_model::new_uid(),
            name: "p".into(),
            kind: inlet_model::ProjectType::Incoming,
            config: Default::default(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn http_source(project: &Project) -> Source {
        serde_json::from_value(serde_json::json!({
            "uid": inlet_model::new_uid(), "project_id": project.uid,
            "mask_id": inlet_model::new_mask_id(), "name": "s", "type": "http",
            "verifier": {"type": "noop"}, "created_at": "", "updated_at": ""
        }))
        .unwrap()
    }

    /// Whether any source row or mask index of the project is left.
    fn leftovers(store: &Store, project: &Project, sources: &[Source]) -> Vec<String> {
        let mut left: Vec<String> = store
            .sources(&project.uid)
            .unwrap()
            .into_iter()
            .map(|s| format!("source {}", s.uid))
            .collect();
        for source in sources {
            let mask = store
                .get_raw(Cf::SourceMasks, source.mask_id.as_bytes())
                .unwrap();
            if mask.is_some() {
                left.push(format!("mask of {}", source.uid));
            }
        }
        left
    }

    #[tokio::test]
    async fn no_source_outlives_its_project_however_creates_and_the_delete_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Arc::new(Metrics::default())).unwrap());
        let (mut before, mut after) = (0, 0);
        for round in 0..20 {
            let project = project();
            store.create_project(&project, None).await.unwrap();
            let sources: Vec<Source> = (0..20).map(|_| http_source(&project)).collect();
            // Tasks of this (single-threaded) runtime first run in the order spawned, so the
            // writer gets the delete after `round` creates and before the others, mostly in
            // the same batch as some of them.
            let mut creates = Vec::new();
            let mut delete = None;
            for (i, source) in sources.iter().enumerate() {
                if i == round {
                    let (store, uid) = (store.clone(), project.uid.clone());
                    delete = Some(tokio::spawn(
                        async move { store.delete_project(&uid).await },
                    ));
                }
                let (store, source) = (store.clone(), source.clone());
                creates.push(tokio::spawn(
                    async move { store.create_source(&source).await },
                ));
            }
            delete.unwrap().await.unwrap().unwrap();
            for create in creates {
                match create.await.unwrap() {
                    Ok(()) => before += 1,
                    Err(StoreError::Missing("project")) => after += 1,
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
            assert_eq!(leftovers(&store, &project, &sources), Vec::<String>::new());
            for source in &sources {
                assert!(store.source_by_mask(&source.mask_id).unwrap().is_none());
            }
        }
        assert!(before > 0 && after > 0, "{before} created, {after} refused");
    }

    #[tokio::test]
    async fn plugin_state_is_kept_per_source_and_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let project = project();
        store.create_project(&project, None).await.unwrap();
        let (a, b) = (http_source(&project), http_source(&project));
        store.create_source(&a).await.unwrap();
        store.create_source(&b).await.unwrap();
        assert!(store.plugin_state(&a.uid).unwrap().is_empty());
        let kept = vec![("hook_secret".to_string(), "s1".to_string())];
        store.set_plugin_state(&a, &kept).await.unwrap();
        assert_eq!(store.plugin_state(&a.uid).unwrap(), kept);
        assert!(store.plugin_state(&b.uid).unwrap().is_empty());
        drop(store);
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        assert_eq!(store.plugin_state(&a.uid).unwrap(), kept, "durable");

        store.delete_source(&a).await.unwrap();
        assert!(store.plugin_state(&a.uid).unwrap().is_empty());
        assert!(matches!(
            store.set_plugin_state(&a, &kept).await,
            Err(StoreError::Missing("source"))
        ));
        assert!(store.plugin_state(&a.uid).unwrap().is_empty());
        store.set_plugin_state(&b, &kept).await.unwrap();
        store.delete_project(&project.uid).await.unwrap();
        assert!(store.plugin_state(&b.uid).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_deleted_source_is_not_brought_back_by_an_update_nor_written_to() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let project = project();
        store.create_project(&project, None).await.unwrap();
        let source = http_source(&project);
        store.create_source(&source).await.unwrap();
        let letter = || Incoming {
            record: Record::DeadLetter(DeadLetter {
                uid: String::new(),
                project_id: project.uid.clone(),
                source_id: source.uid.clone(),
                reason: "test".into(),
                raw: String::new(),
                raw_encoding: RawEncoding::Utf8,
                broker: Default::default(),
                created_at: String::new(),
            }),
            receipt: Some(Receipt::Id(inlet_model::new_uid())),
        };
        let append = || store.append_from_source(&project.uid, &source.uid, vec![letter()]);
        assert!(append().await.is_ok());
        store.update_source(&source).await.unwrap();

        store.delete_source(&source).await.unwrap();
        assert!(matches!(
            store.update_source(&source).await,
            Err(StoreError::Missing("source"))
        ));
        assert!(store.sources(&project.uid).unwrap().is_empty());
        assert!(matches!(append().await, Err(StoreError::Missing("source"))));

        // Nor under a deleted project.
        let other = http_source(&project);
        store.create_source(&other).await.unwrap();
        store.delete_project(&project.uid).await.unwrap();
        let refused = store
            .append_from_source(&project.uid, &other.uid, vec![letter()])
            .await;
        assert!(matches!(refused, Err(StoreError::Missing("source"))));
        assert!(matches!(
            store.create_source(&http_source(&project)).await,
            Err(StoreError::Missing("project"))
        ));
        assert_eq!(
            leftovers(&store, &project, &[source, other]),
            Vec::<String>::new()
        );
    }
}
