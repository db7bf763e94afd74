//! The job runner: runs the store's bulk jobs (batch retries and replays) one page at a
//! time until each is done, oldest first, woken when a job is created. A page and the job's
//! progress are one write (`inlet_store`'s `jobs.rs`), so after a stop or a crash the
//! runner goes on from the cursor last stored: nothing to resume but the jobs still running.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inlet_store::{BulkJob, JobStatus, JobWork, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// After a page failed to be read or stored, how long the runner waits before it tries the
/// page again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Runs jobs until `stop`; the page in progress then ends (it is one write) and the job
/// goes on after the restart.
pub async fn run(store: Arc<Store>, stop: CancellationToken) {
    loop {
        match blocking(&store, |store| store.running_jobs()).await {
            Ok(jobs) => {
                for job in jobs {
                    if !run_job(&store, job, &stop).await {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the job runner cannot read its jobs; trying again");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_AFTER) => continue,
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = store.jobs_created() => {}
        }
    }
}

/// Runs one job to its end, or until `stop` (then `false`).
async fn run_job(store: &Arc<Store>, job: BulkJob, stop: &CancellationToken) -> bool {
    let started = Instant::now();
    let (project, uid) = (job.project_id.clone(), job.uid.clone());
    tracing::info!(
        job = %uid,
        project = %project,
        kind = kind(&job),
        matched_before = job.matched,
        "job started"
    );
    loop {
        if stop.is_cancelled() {
            tracing::info!(job = %uid, "stopping with the job running; it goes on after the restart");
            return false;
        }
        let (p, u) = (project.clone(), uid.clone());
        match blocking(store, move |store| store.advance_job(&p, &u)).await {
            Ok(Some(job)) if job.status == JobStatus::Running => continue,
            Ok(Some(job)) => {
                ended(&job, started);
                return true;
            }
            Ok(None) => {
                tracing::info!(job = %uid, project = %project, "job gone with its project");
                return true;
            }
            Err(StoreError::Closed) => return false,
            // A record that cannot be read stays so: the job cannot go past it.
            Err(StoreError::Corrupt(e)) => {
                let reason = format!("a stored record cannot be read: {e}");
                let (p, u) = (project.clone(), uid.clone());
                match blocking(store, move |store| store.fail_job(&p, &u, &reason)).await {
                    Ok(Some(job)) => {
                        ended(&job, started);
                        return true;
                    }
                    Ok(None) => return true,
                    Err(e) => {
                        tracing::warn!(job = %uid, error = %e, "storing that a job failed failed; trying again")
                    }
                }
            }
            // Writes refused (a full disk), or a delivery gone since it was listed: the page
            // is read and tried again.
            Err(e) => {
                tracing::warn!(job = %uid, error = %e, "a job's page failed; trying it again")
            }
        }
        // Only after a failure.
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(RETRY_AFTER) => {}
        }
    }
}

fn ended(job: &BulkJob, started: Instant) {
    let done = match job.work {
        JobWork::BatchRetry { requeued, .. } => requeued,
        JobWork::BatchReplay { replayed, .. } => replayed,
    };
    let elapsed_secs = started.elapsed().as_secs_f64();
    match job.status {
        JobStatus::Failed => tracing::warn!(
            job = %job.uid,
            project = %job.project_id,
            kind = kind(job),
            matched = job.matched,
            done,
            skipped = job.skipped,
            reason = %job.failure_reason,
            elapsed_secs,
            "job failed"
        ),
        _ => tracing::info!(
            job = %job.uid,
            project = %job.project_id,
            kind = kind(job),
            matched = job.matched,
            done,
            skipped = job.skipped,
            elapsed_secs,
            "job done"
        ),
    }
}

fn kind(job: &BulkJob) -> &'static str {
    match job.work {
        JobWork::BatchRetry { .. } => "batch_retry",
        JobWork::BatchReplay { .. } => "batch_replay",
    }
}

/// A store call that reads pages and waits for the writer, on a blocking thread.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || call(&store)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the runtime is shutting down.
        Err(_) => Err(StoreError::Closed),
    }
}
