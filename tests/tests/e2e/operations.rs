//! Delivery operations, end to end with real receivers: rate limits, circuit breaking,
//! disabling endpoints, ordered delivery (across a SIGKILL too) and meta events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::{Method, StatusCode};
use inlet_tests::receiver::{Answer, Received, Receiver};
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, Client, TestServer, eventually, spawn_inlet};
use serde_json::{Value, json};

use crate::delivery::{fast, final_deliveries, send_event};

/// Sends meta events of the project to `endpoint`.
async fn send_meta_events_to(c: &Client, project: &str, endpoint: &Value) {
    let body =
        json!({"config": {"meta_event": {"is_enabled": true, "endpoint_id": endpoint["uid"]}}});
    let path = format!("/api/v1/projects/{project}");
    c.expect(Method::PUT, &path, Some(body), StatusCode::OK)
        .await;
}

async fn endpoint(c: &Client, project: &str, uid: &str) -> Value {
    let path = format!("/api/v1/projects/{project}/endpoints/{uid}");
    c.expect(Method::GET, &path, None, StatusCode::OK).await
}

fn seq(received: &Received) -> u64 {
    serde_json::from_slice::<Value>(&received.body).unwrap()["n"]
        .as_u64()
        .unwrap()
}

fn meta_types(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["event_type"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Events to an endpoint, numbered from 0 (`data.n`), each acknowledged before the next.
async fn send_numbered(c: &Client, project: &str, key: &str, endpoint: &Value, count: u64) {
    for n in 0..count {
        let body = json!({"endpoint_id": endpoint["uid"], "event_type": "t", "data": {"n": n}});
        send_event(c, project, key, body).await;
    }
}

/// Deliveries over the limit wait in the queue: the endpoint gets its burst, then the
/// rest at the limit's pace, and none of them fails or uses up a retry.
#[tokio::test]
async fn a_rate_limited_endpoint_gets_its_deliveries_paced_without_failures() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, key) = c
        .create_outgoing_project(json!({"strategy": fast(0)}))
        .await;
    let path = format!("/api/v1/projects/{project}/endpoints");
    c.assert_bad_request(
        &path,
        json!({"url": receiver.url("/"), "name": "e", "rate_limit": 5}),
        "invalid_field",
        "rate_limit_duration",
    )
    .await;
    let ep = c
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/"), "name": "e", "rate_limit": 5, "rate_limit_duration": 1}),
        )
        .await;
    assert_eq!(ep["rate_limit"], 5);
    send_numbered(c, &project, &key, &ep, 20).await;
    let got = receiver.wait_for(20, 30).await;
    assert_eq!(got.len(), 20);
    // A burst of 5, then one every 200 ms: at least 3 s for the other 15. Unlimited, the
    // twenty arrive within milliseconds.
    let span = got[19].at - got[0].at;
    assert!(span >= Duration::from_millis(2700), "{span:?}");
    let first_second = got
        .iter()
        .filter(|r| r.at - got[0].at < Duration::from_secs(1))
        .count();
    assert!(first_second <= 10, "{first_second} in the first second");
    // The last outcome may be stored a moment after the receiver saw its request.
    let path = format!("/api/v1/projects/{project}/eventdeliveries?perPage=100");
    let deliveries = eventually(10, "every outcome stored", || async {
        let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
        let content = data["content"].as_array().unwrap().clone();
        content
            .iter()
            .all(|d| d["status"] != "Scheduled")
            .then_some(content)
    })
    .await;
    assert_eq!(deliveries.len(), 20);
    for delivery in &deliveries {
        assert_eq!(delivery["status"], "Success", "{delivery}");
        assert_eq!(delivery["metadata"]["num_trials"], 1, "{delivery}");
    }
}

/// Failures in a row open the endpoint's circuit: its deliveries wait instead of
/// hammering it, one probe goes out after `error_timeout`, and a probe that succeeds
/// closes it; everything is delivered. The state is on the endpoint and in /metrics, and
/// the opening is one meta event.
#[tokio::test]
async fn failures_in_a_row_open_the_circuit_and_a_successful_probe_closes_it() {
    let t = TestServer::start().await;
    let c = &t.client;
    let healthy = Arc::new(AtomicBool::new(false));
    let up = healthy.clone();
    let receiver = Receiver::scripted(move |_| {
        Answer::status(if up.load(Ordering::SeqCst) { 200 } else { 503 })
    })
    .await;
    let meta = Receiver::start().await;
    let config = json!({
        "strategy": fast(30),
        "circuit_breaker": {"consecutive_failure_threshold": 3, "error_timeout": 3, "observability_window": 5}
    });
    let (project, key) = c.create_outgoing_project(config).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "flaky"}))
        .await;
    let uid = ep["uid"].as_str().unwrap();
    assert_eq!(ep["cb_state"], Value::Null, "no attempt yet");
    let meta_ep = c
        .create_endpoint(&project, json!({"url": meta.url("/meta"), "name": "ops"}))
        .await;
    send_meta_events_to(c, &project, &meta_ep).await;
    send_numbered(c, &project, &key, &ep, 5).await;

    eventually(20, "the circuit open", || async {
        (endpoint(c, &project, uid).await["cb_state"] == "open").then_some(())
    })
    .await;
    let at_opening = receiver.received().len();
    // Retries are due every second, but the circuit holds them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.received().len(),
        at_opening,
        "nothing sent while open"
    );
    // After error_timeout, a single probe; it fails and the circuit stays open.
    let probed = receiver.wait_for(at_opening + 1, 10).await.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), probed, "one probe at a time");
    let view = endpoint(c, &project, uid).await;
    assert!(view["failure_rate"].as_f64().unwrap() > 0.9, "{view}");
    assert!(view["failure_count"].as_u64().unwrap() >= 4, "{view}");
    let metric = format!("inlet_endpoint_circuit_state{{endpoint=\"{uid}\",state=\"open\"}}");
    assert_eq!(c.metric(&metric).await, 1.0);

    healthy.store(true, Ordering::SeqCst);
    let path = format!("/api/v1/projects/{project}/eventdeliveries?endpointId={uid}");
    eventually(30, "every delivery done", || async {
        let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
        let content = data["content"].as_array().unwrap().clone();
        (content.len() == 5 && content.iter().all(|d| d["status"] == "Success")).then_some(())
    })
    .await;
    assert_eq!(endpoint(c, &project, uid).await["cb_state"], "closed");
    let metric = format!("inlet_endpoint_circuit_state{{endpoint=\"{uid}\",state=\"closed\"}}");
    assert_eq!(c.metric(&metric).await, 1.0);
    // One meta event for the opening; the failed probe reopened it without another.
    let got = meta.wait_for(1, 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(meta_types(&meta.received()), ["endpoint.circuit_opened"]);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["data"]["endpoint_id"], uid);
    assert!(body["data"]["consecutive_failures"].as_u64().unwrap() >= 3);
    // A deleted endpoint's series go with it.
    let path = format!("/api/v1/projects/{project}/endpoints/{uid}");
    c.expect(Method::DELETE, &path, None, StatusCode::OK).await;
    assert!(!c.get("/metrics").await.text().contains(uid));
}

/// With the project's `disable_endpoint`, a delivery that fails for good makes its
/// endpoint inactive: its next deliveries are `Discarded`, visibly, until it is activated.
/// The failure and the disabling are meta events.
#[tokio::test]
async fn an_endpoint_whose_delivery_fails_for_good_is_disabled_and_reported() {
    let t = TestServer::start().await;
    let c = &t.client;
    // The first request fails; after the endpoint is activated again, it answers.
    let receiver = Receiver::scripted(|n| Answer::status(if n == 0 { 500 } else { 200 })).await;
    let meta = Receiver::start().await;
    let (project, key) = c
        .create_outgoing_project(json!({"strategy": fast(0), "disable_endpoint": true}))
        .await;
    let ep = c
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/"), "name": "fragile"}),
        )
        .await;
    let uid = ep["uid"].as_str().unwrap();
    let meta_ep = c
        .create_endpoint(&project, json!({"url": meta.url("/meta"), "name": "ops"}))
        .await;
    send_meta_events_to(c, &project, &meta_ep).await;

    let send = |n: u64| {
        let body = json!({"endpoint_id": uid, "event_type": "t", "data": {"n": n}});
        send_event(c, &project, &key, body)
    };
    let first = send(0).await;
    let deliveries = final_deliveries(c, &project, first["uid"].as_str().unwrap(), 10).await;
    assert_eq!(deliveries[0]["status"], "Failure");
    eventually(10, "the endpoint inactive", || async {
        (endpoint(c, &project, uid).await["status"] == "inactive").then_some(())
    })
    .await;
    let second = send(1).await;
    let deliveries = final_deliveries(c, &project, second["uid"].as_str().unwrap(), 10).await;
    assert_eq!(deliveries[0]["status"], "Discarded");
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing sent to an inactive endpoint"
    );

    let got = meta.wait_for(2, 10).await;
    let mut types = meta_types(&got);
    types.sort();
    assert_eq!(types, ["endpoint.disabled", "eventdelivery.failed"]);
    let failed = got
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .find(|body| body["event_type"] == "eventdelivery.failed")
        .unwrap();
    assert_eq!(
        failed["data"]["delivery_id"],
        deliveries_of(&first, c, &project).await
    );

    let path = format!("/api/v1/projects/{project}/endpoints/{uid}/activate");
    c.expect(Method::POST, &path, None, StatusCode::OK).await;
    let third = send(2).await;
    let deliveries = final_deliveries(c, &project, third["uid"].as_str().unwrap(), 10).await;
    assert_eq!(deliveries[0]["status"], "Success");
    assert_eq!(seq(&receiver.received()[1]), 2);
}

/// The uid of an event's one delivery.
async fn deliveries_of(event: &Value, c: &Client, project: &str) -> Value {
    let deliveries = final_deliveries(c, project, event["uid"].as_str().unwrap(), 10).await;
    deliveries[0]["uid"].clone()
}

/// An ordered endpoint gets its events in the order they were stored, each after the one
/// before succeeded: a failing delivery holds the rest until its retry succeeds.
#[tokio::test]
async fn an_ordered_endpoint_receives_in_order_through_retries() {
    let t = TestServer::start().await;
    let c = &t.client;
    // The 4th and 5th requests fail: both are attempts of event 3, if the order holds.
    let receiver =
        Receiver::scripted(|n| Answer::status(if n == 3 || n == 4 { 500 } else { 200 })).await;
    let (project, key) = c
        .create_outgoing_project(json!({"strategy": fast(5)}))
        .await;
    let ep = c
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/"), "name": "ledger", "ordered": true}),
        )
        .await;
    assert_eq!(ep["ordered"], true);
    send_numbered(c, &project, &key, &ep, 20).await;
    let got = receiver.wait_for(22, 30).await;
    let order: Vec<u64> = got.iter().map(seq).collect();
    let mut expected: Vec<u64> = (0..20).collect();
    expected.splice(3..3, [3, 3]);
    assert_eq!(order, expected);
}

/// Ordered delivery across a SIGKILL mid-way: after the restart the endpoint gets the rest
/// in order; only the delivery in flight at the kill may arrive twice, at once again.
#[tokio::test]
async fn ordered_delivery_keeps_its_order_across_a_sigkill() {
    const EVENTS: u64 = 40;
    let receiver =
        Receiver::scripted(|_| Answer::status(200).after(Duration::from_millis(100))).await;
    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let (project, key) = inlet
        .client
        .create_outgoing_project(json!({"strategy": fast(5)}))
        .await;
    let ep = inlet
        .client
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/"), "name": "ledger", "ordered": true}),
        )
        .await;
    send_numbered(&inlet.client, &project, &key, &ep, EVENTS).await;
    let before = receiver.wait_for(10, 30).await.len();
    assert!(
        before < EVENTS as usize,
        "the kill comes mid-way ({before})"
    );
    drop(inlet); // SIGKILL
    let _inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let got = eventually(60, "every event", || async {
        let got = receiver.received();
        (got.last().map(seq) == Some(EVENTS - 1)).then_some(got)
    })
    .await;
    let mut order: Vec<u64> = got.iter().map(seq).collect();
    let sent = order.len();
    order.dedup();
    assert_eq!(order, (0..EVENTS).collect::<Vec<_>>());
    assert!(
        sent <= EVENTS as usize + 1,
        "{sent} requests for {EVENTS} events"
    );
}
