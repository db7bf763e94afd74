//! Sending deliveries again, end to end: `resend` and `forceresend` requeue final
//! deliveries (no new delivery), a replay makes new ones, and batch retries and replays run
//! as durable jobs, across a SIGKILL of the real binary too. Deliveries go to a real
//! receiver on loopback that answers 500 until the test fixes it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime};

use hyper::{Method, StatusCode};
use inlet_tests::receiver::{Answer, Received, Receiver};
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, Client, TestServer, eventually, spawn_inlet};
use serde_json::{Value, json};

use crate::delivery::fast;

/// Deliveries that fail for good at their first failed attempt, with a circuit that never
/// opens (these tests fail whole batches on purpose).
fn failing_fast() -> Value {
    json!({"strategy": fast(0), "circuit_breaker": {"consecutive_failure_threshold": 10000}})
}

/// A receiver answering what `status` holds at the time.
async fn switchable(status: &Arc<AtomicU16>) -> Receiver {
    let status = status.clone();
    Receiver::scripted(move |_| Answer::status(status.load(Ordering::SeqCst))).await
}

async fn endpoint(c: &Client, project: &str, receiver: &Receiver) -> String {
    let ep = c
        .create_endpoint(project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    ep["uid"].as_str().unwrap().to_string()
}

/// Sends an event to the endpoint; returns its uid.
async fn send_event(c: &Client, project: &str, key: &str, endpoint: &str, n: usize) -> String {
    let path = format!("/api/v1/projects/{project}/events");
    let body = json!({"endpoint_id": endpoint, "event_type": "t", "data": {"n": n}});
    let reply = c.api(Method::POST, &path, key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["data"]["uid"].as_str().unwrap().to_string()
}

/// An event's deliveries once each has `status` (or `secs` passed).
async fn deliveries_when(
    c: &Client,
    project: &str,
    event: &str,
    status: &str,
    secs: u64,
) -> Vec<Value> {
    eventually(secs, &format!("deliveries {status}"), || async {
        let deliveries = event_deliveries(c, project, event).await;
        (!deliveries.is_empty() && deliveries.iter().all(|d| d["status"] == status))
            .then_some(deliveries)
    })
    .await
}

async fn event_deliveries(c: &Client, project: &str, event: &str) -> Vec<Value> {
    let path = format!("/api/v1/projects/{project}/eventdeliveries?eventId={event}");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    data["content"].as_array().unwrap().clone()
}

/// `{"num": n}` of a count route.
async fn count(c: &Client, project: &str, route: &str) -> u64 {
    let path = format!("/api/v1/projects/{project}/{route}");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    data["num"].as_u64().unwrap()
}

/// Starts a batch job (`POST` to `route`): 202 with the job, running.
async fn start_job(c: &Client, project: &str, route: &str) -> Value {
    let path = format!("/api/v1/projects/{project}/{route}");
    let job = c
        .expect(Method::POST, &path, None, StatusCode::ACCEPTED)
        .await;
    assert_eq!(job["status"], "running", "{job}");
    job
}

async fn job_done(c: &Client, project: &str, job: &Value, secs: u64) -> Value {
    let path = format!(
        "/api/v1/projects/{project}/jobs/{}",
        job["uid"].as_str().unwrap()
    );
    assert_eq!(job["url"], path.as_str());
    eventually(secs, "the job done", || async {
        let job = c.expect(Method::GET, &path, None, StatusCode::OK).await;
        assert_ne!(job["status"], "failed", "{job}");
        (job["status"] == "done").then_some(job)
    })
    .await
}

fn delivery_uid(received: &Received) -> String {
    received
        .header("x-convoy-idempotency-key")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn resend_requeues_a_failed_delivery_and_forceresend_a_delivered_one() {
    let t = TestServer::start().await;
    let c = &t.client;
    let status = Arc::new(AtomicU16::new(500));
    let receiver = switchable(&status).await;
    let (project, key) = c.create_outgoing_project(failing_fast()).await;
    let (_, other_key) = c.create_outgoing_project(failing_fast()).await;
    let failing = endpoint(c, &project, &receiver).await;
    let paused = endpoint(c, &project, &receiver).await;
    let pause = format!("/api/v1/projects/{project}/endpoints/{paused}/pause");
    c.expect(Method::PUT, &pause, None, StatusCode::OK).await;

    let event = send_event(c, &project, &key, &failing, 1).await;
    let failed = deliveries_when(c, &project, &event, "Failure", 10).await;
    let failed = failed[0]["uid"].as_str().unwrap().to_string();
    let waiting = send_event(c, &project, &key, &paused, 2).await;
    let waiting = event_deliveries(c, &project, &waiting).await;
    assert_eq!(waiting[0]["status"], "Scheduled");
    let waiting = waiting[0]["uid"].as_str().unwrap().to_string();
    let resend =
        |delivery: &str| format!("/api/v1/projects/{project}/eventdeliveries/{delivery}/resend");

    // Still queued: nothing to do.
    let reply = c.api(Method::PUT, &resend(&waiting), &key, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    assert_eq!(reply.code(), "already_queued");
    let reply = c
        .api(
            Method::PUT,
            &resend("01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
            &key,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // Another project's key may not.
    let reply = c.api(Method::PUT, &resend(&failed), &other_key, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // The endpoint fixed, the failed delivery is sent once more, as the same delivery.
    status.store(200, Ordering::SeqCst);
    let reply = c.api(Method::PUT, &resend(&failed), &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["data"]["status"], "Scheduled");
    assert_eq!(reply.json()["data"]["uid"], failed.as_str());
    let done = deliveries_when(c, &project, &event, "Success", 10).await;
    assert_eq!(done.len(), 1, "no new delivery");
    assert_eq!(done[0]["metadata"]["num_trials"], 2);
    assert_eq!(receiver.wait_for(2, 5).await.len(), 2);

    // Delivered: a resend is refused, and says how to force it.
    let reply = c.api(Method::PUT, &resend(&failed), &key, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "already_delivered");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("forceresend")
    );

    let force = format!("/api/v1/projects/{project}/eventdeliveries/forceresend");
    let ids = json!({"ids": [&failed, &waiting, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"]});
    let reply = c.api(Method::POST, &force, &key, Some(ids)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["message"], "1 successful, 2 failed");
    assert_eq!(body["data"]["successful"], json!([&failed]));
    let codes: Vec<_> = body["data"]["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["already_queued", "not_found"]);
    let got = receiver.wait_for(3, 10).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| delivery_uid(r) == failed));
    let done = eventually(10, "the forced resend done", || async {
        let done = event_deliveries(c, &project, &event).await;
        (done[0]["metadata"]["num_trials"] == 3 && done[0]["status"] == "Success").then_some(done)
    })
    .await;
    assert_eq!(done.len(), 1);

    for (ids, message) in [
        (json!([]), "at least one"),
        (
            json!((0..1001).map(|n| n.to_string()).collect::<Vec<_>>()),
            "at most 1000",
        ),
    ] {
        c.assert_bad_request(&force, json!({"ids": ids}), "invalid_field", message)
            .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3, "nothing else was sent");
}

#[tokio::test]
async fn a_replay_makes_a_second_delivery_and_the_event_arrives_twice() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, key) = c.create_outgoing_project(failing_fast()).await;
    let ep = endpoint(c, &project, &receiver).await;
    let event = send_event(c, &project, &key, &ep, 1).await;
    let first = deliveries_when(c, &project, &event, "Success", 10).await;

    let path = format!("/api/v1/projects/{project}/events/{event}/replay");
    let reply = c.api(Method::PUT, &path, &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let made = reply.json()["data"].as_array().unwrap().clone();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["event_id"], event.as_str());
    assert_ne!(made[0]["uid"], first[0]["uid"]);
    let got = receiver.wait_for(2, 10).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "the same event");
    assert_ne!(
        delivery_uid(&got[0]),
        delivery_uid(&got[1]),
        "two deliveries"
    );
    let both = deliveries_when(c, &project, &event, "Success", 10).await;
    assert_eq!(both.len(), 2);
    let missing = format!("/api/v1/projects/{project}/events/01ZZZZZZZZZZZZZZZZZZZZZZZZ/replay");
    let reply = c.api(Method::PUT, &missing, &key, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // A batch replay of the project's events: one more delivery of each.
    send_event(c, &project, &key, &ep, 2).await;
    assert_eq!(count(c, &project, "events/countbatchreplayevents").await, 2);
    assert_eq!(
        count(c, &project, "events/countbatchreplayevents?eventType=nope").await,
        0
    );
    let job = start_job(c, &project, "events/batchreplay").await;
    assert_eq!(job["type"], "batch_replay");
    let job = job_done(c, &project, &job, 20).await;
    assert_eq!(
        (
            &job["matched"],
            &job["replayed"],
            &job["deliveries"],
            &job["skipped"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(0)),
        "{job}"
    );
    assert_eq!(receiver.wait_for(5, 10).await.len(), 5);
    assert_eq!(
        deliveries_when(c, &project, &event, "Success", 10)
            .await
            .len(),
        3
    );
    let jobs = c
        .expect(
            Method::GET,
            &format!("/api/v1/projects/{project}/jobs"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(jobs["content"][0]["uid"], job["uid"]);
}

/// After an endpoint failed and was fixed, a batch retry of the failed deliveries sends each
/// exactly once more, as the same delivery; a batch retry without `status=Success` leaves
/// delivered ones alone.
#[tokio::test]
async fn a_batch_retry_sends_every_failed_delivery_once_more() {
    const EVENTS: usize = 20;
    let t = TestServer::start().await;
    let c = &t.client;
    let status = Arc::new(AtomicU16::new(500));
    let receiver = switchable(&status).await;
    let (project, key) = c.create_outgoing_project(failing_fast()).await;
    let ep = endpoint(c, &project, &receiver).await;
    let mut events = Vec::new();
    for n in 0..EVENTS {
        events.push(send_event(c, &project, &key, &ep, n).await);
    }
    for event in &events {
        deliveries_when(c, &project, event, "Failure", 20).await;
    }
    assert_eq!(
        count(
            c,
            &project,
            "eventdeliveries/countbatchretryevents?status=Failure"
        )
        .await,
        EVENTS as u64
    );
    status.store(200, Ordering::SeqCst);
    let job = start_job(c, &project, "eventdeliveries/batchretry?status=Failure").await;
    assert_eq!(job["type"], "batch_retry");
    assert_eq!(job["force"], false);
    let job = job_done(c, &project, &job, 20).await;
    assert_eq!(
        (&job["matched"], &job["requeued"], &job["skipped"]),
        (&json!(EVENTS), &json!(EVENTS), &json!(0)),
        "{job}"
    );
    for event in &events {
        let deliveries = deliveries_when(c, &project, event, "Success", 20).await;
        assert_eq!(deliveries.len(), 1, "no new delivery record");
        assert_eq!(deliveries[0]["metadata"]["num_trials"], 2);
    }
    let got = receiver.wait_for(2 * EVENTS, 10).await;
    let mut per_delivery = HashMap::<String, usize>::new();
    for received in &got {
        *per_delivery.entry(delivery_uid(received)).or_default() += 1;
    }
    assert_eq!(per_delivery.len(), EVENTS);
    assert!(per_delivery.values().all(|&n| n == 2), "{per_delivery:?}");

    // Without status=Success, delivered ones are matched and skipped.
    let job = start_job(c, &project, "eventdeliveries/batchretry").await;
    let job = job_done(c, &project, &job, 20).await;
    assert_eq!(
        (&job["matched"], &job["requeued"], &job["skipped"]),
        (&json!(EVENTS), &json!(0), &json!(EVENTS)),
        "{job}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2 * EVENTS, "nothing sent again");
    let reply = c
        .api(
            Method::POST,
            &format!("/api/v1/projects/{project}/eventdeliveries/batchretry?status=Nope"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_query");
}

/// Every queue entry of the store in `dir` (the binary stopped), per delivery; and the
/// job as stored.
fn read_store(dir: &std::path::Path, project: &str, job: &str) -> (HashMap<String, usize>, Value) {
    let store = inlet_store::Store::open(
        &dir.join("store"),
        Arc::new(inlet_metrics::Metrics::default()),
    )
    .unwrap();
    let far = SystemTime::now() + Duration::from_secs(365 * 24 * 3600);
    let mut entries = HashMap::<String, usize>::new();
    for (endpoint, queued) in store.queued_endpoints().unwrap() {
        let scan = store
            .scan_endpoint(&endpoint, queued.from_ms, far, usize::MAX, |_| false)
            .unwrap();
        for entry in scan.due {
            *entries.entry(entry.delivery_id).or_default() += 1;
        }
    }
    let job = store.job(project, job).unwrap().unwrap();
    (entries, serde_json::to_value(job).unwrap())
}

/// A batch retry of 1,500 failed deliveries, the binary SIGKILLed mid-job: after the
/// restart the job goes on from its cursor and finishes; every delivery ends `Success`, as
/// the same delivery, never with two queue entries, and the job's counts add up.
#[tokio::test]
async fn a_batch_retry_survives_a_sigkill_and_finishes() {
    const EVENTS: usize = 1500;
    let status = Arc::new(AtomicU16::new(500));
    let receiver = switchable(&status).await;
    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let c = inlet.client.clone();
    let (project, key) = c.create_outgoing_project(failing_fast()).await;
    let ep = endpoint(&c, &project, &receiver).await;
    let mut sends = tokio::task::JoinSet::new();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(EVENTS / 30) {
        let (c, project, key, ep, chunk) = (
            c.clone(),
            project.clone(),
            key.clone(),
            ep.clone(),
            chunk.to_vec(),
        );
        sends.spawn(async move {
            for n in chunk {
                send_event(&c, &project, &key, &ep, n).await;
            }
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.unwrap();
    }
    let failed = "eventdeliveries/countbatchretryevents?status=Failure";
    eventually(60, "every delivery failed", || async {
        (count(&c, &project, failed).await == EVENTS as u64).then_some(())
    })
    .await;
    status.store(200, Ordering::SeqCst);
    let job = start_job(&c, &project, "eventdeliveries/batchretry?status=Failure").await;
    let job_id = job["uid"].as_str().unwrap().to_string();
    let job_path = format!("/api/v1/projects/{project}/jobs/{job_id}");
    // Killed once the job has done a page, before it is done.
    loop {
        let job = c.expect(Method::GET, &job_path, None, StatusCode::OK).await;
        if job["matched"] != 0 || job["status"] != "running" {
            break;
        }
    }
    drop(inlet); // SIGKILL
    let (entries, at_kill) = read_store(dir.path(), &project, &job_id);
    assert_eq!(at_kill["status"], "running", "killed mid-job: {at_kill}");
    let requeued_at_kill = at_kill["requeued"].as_u64().unwrap();
    assert!(
        requeued_at_kill > 0 && requeued_at_kill < EVENTS as u64,
        "{at_kill}"
    );
    assert!(
        entries.values().all(|&n| n == 1),
        "two queue entries: {entries:?}"
    );
    assert!(entries.len() as u64 <= requeued_at_kill);

    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let c = inlet.client.clone();
    let job = job_done(&c, &project, &job, 60).await;
    assert_eq!(
        (&job["matched"], &job["requeued"], &job["skipped"]),
        (&json!(EVENTS), &json!(EVENTS), &json!(0)),
        "{job}"
    );
    let delivered = "eventdeliveries/countbatchretryevents?status=Success";
    eventually(60, "every delivery delivered", || async {
        (count(&c, &project, delivered).await == EVENTS as u64).then_some(())
    })
    .await;
    assert_eq!(
        count(&c, &project, "eventdeliveries/countbatchretryevents").await,
        EVENTS as u64,
        "no new delivery record"
    );
    drop(inlet);
    let (entries, _) = read_store(dir.path(), &project, &job_id);
    assert!(entries.is_empty(), "queue entries left: {entries:?}");
    // Each delivery failed once and then arrived, as itself; those in flight at the kill
    // may have arrived twice.
    let got = receiver.received();
    let uids: HashSet<_> = got.iter().map(delivery_uid).collect();
    assert_eq!(uids.len(), EVENTS);
    assert!(got.len() >= 2 * EVENTS, "{} requests", got.len());
}
