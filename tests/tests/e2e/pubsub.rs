use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use hyper::{Method, StatusCode};
use inlet_tests::pubsub::{PubSub, free_port, google_source};
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, TestServer, event_body, event_seqs, spawn_inlet};
use serde_json::{Value, json};

fn bodies(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(|seq| event_body(seq).into_bytes()).collect()
}

/// A topic `orders` and a subscription `orders-inlet` on it.
async fn orders(pubsub: &PubSub, ack_deadline: u32) {
    pubsub.create_topic("orders").await;
    pubsub
        .create_subscription("orders-inlet", "orders", ack_deadline)
        .await;
}

/// Once the subscription's ack deadline has passed, nothing unacked is left to pull.
async fn assert_all_acked(pubsub: &PubSub, ack_deadline: u32) {
    assert_eq!(pubsub.pull_now("orders-inlet").await, 0, "nacked on close");
    tokio::time::sleep(Duration::from_secs(u64::from(ack_deadline) + 2)).await;
    assert_eq!(pubsub.pull_now("orders-inlet").await, 0, "redelivered");
}

/// A service account key, base64-encoded as Convoy sends it, well-formed but whose private
/// key is not a key: it passes validation and fails when used to sign.
fn service_account_key() -> String {
    let key = json!({
        "type": "service_account",
        "project_id": "inlet-test",
        "private_key_id": "key-1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n",
        "client_email": "inlet@inlet-test.iam.gserviceaccount.com",
    });
    base64::engine::general_purpose::STANDARD.encode(key.to_string())
}

#[tokio::test]
async fn google_source_configuration_is_validated_and_its_service_account_masked() {
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let path = format!("/api/v1/projects/{project}/sources");
    let service_account = service_account_key();
    let google = |fields: Value| json!({"type": "google", "google": fields});
    let cases = [
        (
            json!({"type": "google"}),
            "invalid_field",
            "pub_sub.google: required",
        ),
        (
            google(json!({"project_id": "inlet-test", "subscription_id": "orders-inlet"})),
            "invalid_field",
            "pub_sub.google.service_account: required",
        ),
        (
            google(
                json!({"project_id": "inlet-test", "subscription_id": "orders-inlet",
                "service_account": "not base64"}),
            ),
            "invalid_field",
            "pub_sub.google.service_account",
        ),
        (
            google(json!({"project_id": "inlet-test", "subscription_id": "o",
                "endpoint": "http://127.0.0.1:9"})),
            "invalid_field",
            "pub_sub.google.subscription_id",
        ),
        (
            google(
                json!({"project_id": "inlet-test", "subscription": "orders-inlet",
                "endpoint": "http://127.0.0.1:9"}),
            ),
            "invalid_json",
            "pub_sub.google",
        ),
    ];
    for (pub_sub, code, message) in cases {
        let body = json!({"name": "pubsub", "type": "pub_sub", "pub_sub": pub_sub});
        c.assert_bad_request(&path, body, code, message).await;
    }

    let mut good = google_source("http://127.0.0.1:9", "orders-inlet", 1);
    good["pub_sub"]["google"]["service_account"] = json!(service_account);
    let reply = c.api(Method::POST, &path, ADMIN_TOKEN, Some(good)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let source = reply.json()["data"].clone();
    assert_eq!(source["pub_sub"]["google"]["service_account"], "********");
    assert!(!source.to_string().contains(&service_account), "{source}");
    // Nothing listens on the endpoint: the source says so, and keeps trying.
    let uid = source["uid"].as_str().unwrap();
    let status = c.wait_for_failure(&project, uid, "", 30).await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.contains("orders-inlet"), "{status}");
    assert!(!error.contains("c2VjcmV0"), "{status}");
    t.stop().await;
}

#[tokio::test]
async fn pubsub_messages_are_stored_once_and_acked_and_malformed_ones_dead_lettered() {
    const VALID: usize = 1000;
    let pubsub = PubSub::start().await;
    orders(&pubsub, 10).await;
    let malformed: [&[u8]; 3] = [b"this is not json", br#"{"event_type": "x"}"#, b"\xff\xfe"];
    let mut payloads = bodies(0..VALID);
    payloads.splice(500..500, malformed.iter().map(|m| m.to_vec()));
    pubsub.publish("orders", &payloads).await;

    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let source = c
        .create_source(&project, google_source(&pubsub.endpoint, "orders-inlet", 2))
        .await;
    let uid = source["uid"].as_str().unwrap();

    let events = c.wait_for_events(&project, VALID, 120).await;
    assert_eq!(event_seqs(&events).len(), VALID, "each message stored once");
    let letters = c.wait_for_dead_letters(&project, 3, 10).await;
    let raws: HashSet<_> = letters.iter().map(|l| l["raw"].as_str().unwrap()).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    let expected = HashSet::from([
        "this is not json".to_string(),
        r#"{"event_type": "x"}"#.to_string(),
        engine.encode(b"\xff\xfe"),
    ]);
    assert_eq!(raws, expected.iter().map(String::as_str).collect());
    for letter in &letters {
        assert_eq!(letter["source_id"], uid);
        assert!(!letter["reason"].as_str().unwrap().is_empty(), "{letter}");
    }
    // Each event keeps its message_id, attributes and ordering key.
    for event in &events {
        let seq = event["data"]["seq"].as_u64().unwrap() as usize;
        let index = if seq < 500 { seq } else { seq + 3 };
        let broker = &event["broker"];
        assert_eq!(
            broker["attributes"]["trace-id"],
            index.to_string(),
            "{event}"
        );
        assert_eq!(broker["key"], format!("customer-{}", index % 3), "{event}");
        assert!(
            broker["message_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }
    let metric = |name: &str| format!("{name}{{source=\"{uid}\"}}");
    assert_eq!(c.metric(&metric("inlet_dead_letters_total")).await, 3.0);
    assert_eq!(
        c.metric(&metric("inlet_events_accepted_total")).await,
        VALID as f64
    );
    assert_eq!(c.source_status(&project, uid).await["state"], "running");

    // Acked only once stored, and all of them: after a graceful stop nothing comes back.
    t.stop().await;
    assert_all_acked(&pubsub, 10).await;
}

#[tokio::test]
async fn pubsub_sigkill_mid_drain_then_restart_stores_every_message_exactly_once() {
    const MESSAGES: usize = 2000;
    let pubsub = PubSub::start().await;
    orders(&pubsub, 10).await;
    pubsub.publish("orders", &bodies(0..MESSAGES)).await;

    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let (project, _) = inlet.client.create_project("outgoing").await;
    let source = inlet
        .client
        .create_source(&project, google_source(&pubsub.endpoint, "orders-inlet", 2))
        .await;
    let uid = source["uid"].as_str().unwrap().to_string();
    let stored_before_kill = inlet.client.wait_for_accepted(&uid, 1.0, 60).await;
    drop(inlet); // SIGKILL: leased messages are neither stored nor acked.
    assert!(stored_before_kill < MESSAGES as f64, "killed mid-drain");

    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    // What the killed Inlet held comes back as its leases lapse (20 s), in waves.
    let events = inlet.client.wait_for_events(&project, MESSAGES, 300).await;
    assert_eq!(event_seqs(&events).len(), MESSAGES, "no duplicate events");
    // Sampled before the kill, that count cannot tell whether the drain was still going
    // when the process died. What the store held then can: below every message only if
    // the restarted process had messages left to take over.
    let stored_at_kill = inlet.client.stored_at_kill(&uid, events.len()).await;
    assert!(
        stored_at_kill >= stored_before_kill,
        "{stored_at_kill} stored at the kill, {stored_before_kill} seen before it"
    );
    assert!(
        stored_at_kill < MESSAGES as f64,
        "killed mid-drain: {stored_at_kill} of {MESSAGES} were stored at the kill"
    );
    drop(inlet);
    assert_all_acked(&pubsub, 10).await;
}

#[tokio::test]
async fn pubsub_source_shows_an_unreachable_emulator_a_missing_subscription_and_bad_credentials_and_recovers()
 {
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;

    // The emulator is not running yet.
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let source = c
        .create_source(&project, google_source(&endpoint, "orders-inlet", 1))
        .await;
    let uid = source["uid"].as_str().unwrap();
    c.wait_for_failure(&project, uid, "", 30).await;
    let errors = format!("inlet_broker_source_errors_total{{source=\"{uid}\"}}");
    assert!(c.metric(&errors).await >= 1.0);

    // It comes up: the source finds it by itself.
    let pubsub = PubSub::start_on(port).await;
    orders(&pubsub, 10).await;
    pubsub.publish("orders", &bodies(0..1)).await;
    c.wait_for_events(&project, 1, 60).await;
    assert_eq!(c.source_status(&project, uid).await["state"], "running");

    // A subscription that does not exist yet: shown, then found once it is created.
    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let invoices = google_source(&endpoint, "invoices-inlet", 1);
    let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, Some(invoices)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    c.wait_for_failure(&project, uid, "invoices-inlet", 30)
        .await;
    pubsub.create_topic("invoices").await;
    pubsub
        .create_subscription("invoices-inlet", "invoices", 10)
        .await;
    pubsub.publish("invoices", &bodies(1..2)).await;
    let events = c.wait_for_events(&project, 2, 60).await;
    assert_eq!(event_seqs(&events), HashSet::from([0, 1]));
    assert_eq!(c.source_status(&project, uid).await["state"], "running");

    // Credentials that cannot sign (a key whose private key is not one): refused before any
    // message moves, shown without the key, and fixed by an update. A subscription no stream
    // has read yet: the emulator may lease new messages for a while to a stream just closed.
    pubsub.create_topic("refunds").await;
    pubsub
        .create_subscription("refunds-inlet", "refunds", 10)
        .await;
    let mut bad_key = google_source(&endpoint, "refunds-inlet", 1);
    bad_key["pub_sub"]["google"]["service_account"] = json!(service_account_key());
    let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, Some(bad_key)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    pubsub.publish("refunds", &bodies(2..3)).await;
    let status = c
        .wait_for_failure(&project, uid, "authentication", 30)
        .await;
    assert!(!status.to_string().contains("c2VjcmV0"), "{status}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.all_events(&project).await.len(), 2, "nothing consumed");
    let fixed = google_source(&endpoint, "refunds-inlet", 1);
    let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, Some(fixed)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    c.wait_for_events(&project, 3, 60).await;
    assert_eq!(c.source_status(&project, uid).await["state"], "running");

    // The emulator goes away while the source streams: shown within a check or two.
    drop(pubsub);
    c.wait_for_failure(&project, uid, "", 40).await;
    t.stop().await;
}
