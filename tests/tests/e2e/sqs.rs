use std::collections::HashSet;

use hyper::{Method, StatusCode};
use inlet_tests::sqs::{Sqs, sqs_source};
use inlet_tests::{
    ADMIN_TOKEN, ALLOW_BROKERS, TestServer, event_body, event_seqs, eventually, spawn_inlet,
};
use serde_json::json;

async fn wait_until_empty(sqs: &Sqs, queue_url: &str, secs: u64) {
    eventually(secs, "the queue emptied", || async {
        (sqs.depth(queue_url).await == (0, 0)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sqs_source_configuration_is_validated_and_its_secret_masked() {
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let path = format!("/api/v1/projects/{project}/sources");
    let good = json!({
        "name": "sqs",
        "type": "pub_sub",
        "pub_sub": {"type": "sqs", "sqs": {
            "access_key_id": "AKIA0000", "secret_key": "s3cret-key",
            "default_region": "us-east-1", "queue_name": "orders",
            "endpoint": "http://127.0.0.1:9"
        }}
    });
    let cases = [
        (
            json!({"type": "sqs"}),
            "invalid_field",
            "pub_sub.sqs: required",
        ),
        (
            json!({"type": "sqs", "sqs": {"access_key_id": "a", "secret_key": "s", "default_region": "us-east-1"}}),
            "invalid_field",
            "pub_sub.sqs.queue_name",
        ),
        (
            json!({"type": "sqs", "sqs": {"access_key_id": "a", "secret_key": "s", "default_region": "us-east-1", "queue_name": "q", "endpoint": "localhost:4566"}}),
            "invalid_field",
            "pub_sub.sqs.endpoint",
        ),
        (
            json!({"type": "sqs", "sqs": {"access_key_id": "a", "secret_key": "s", "region": "us-east-1", "queue_name": "q"}}),
            "invalid_json",
            "pub_sub.sqs",
        ),
    ];
    for (pub_sub, code, message) in cases {
        let mut body = good.clone();
        body["pub_sub"] = pub_sub.clone();
        c.assert_bad_request(&path, body, code, message).await;
    }

    let reply = c.api(Method::POST, &path, ADMIN_TOKEN, Some(good)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let source = reply.json()["data"].clone();
    assert!(!source.to_string().contains("s3cret-key"), "{source}");
    assert_eq!(source["pub_sub"]["sqs"]["access_key_id"], "AKIA0000");
    // Nothing listens on the endpoint: the source says so, and keeps trying.
    let uid = source["uid"].as_str().unwrap();
    let status = c.wait_for_failure(&project, uid, "", 30).await;
    assert!(
        status["last_error"].as_str().unwrap().contains("orders"),
        "{status}"
    );
    t.stop().await;
}

#[tokio::test]
async fn sqs_messages_are_stored_once_and_deleted_and_malformed_ones_dead_lettered() {
    const VALID: usize = 300;
    let sqs = Sqs::start().await;
    let queue = sqs.create_queue("orders", 30).await;
    let malformed = [
        "this is not json".to_string(),
        r#"{"event_type": "x", "data": {}}"#.to_string(),
        "[1, 2, 3]".to_string(),
    ];
    let mut bodies: Vec<String> = (0..VALID).map(event_body).collect();
    bodies.splice(100..100, malformed.iter().cloned());
    sqs.send(&queue, bodies).await;

    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let source = c
        .create_source(&project, sqs_source(&sqs, "orders", 3))
        .await;
    let uid = source["uid"].as_str().unwrap();

    let events = c.wait_for_events(&project, VALID, 120).await;
    assert_eq!(event_seqs(&events).len(), VALID, "each message stored once");
    let letters = c.wait_for_dead_letters(&project, 3, 10).await;
    let raws: HashSet<_> = letters.iter().map(|l| l["raw"].as_str().unwrap()).collect();
    assert_eq!(raws, malformed.iter().map(String::as_str).collect());
    for letter in &letters {
        assert_eq!(letter["source_id"], uid);
        assert!(!letter["reason"].as_str().unwrap().is_empty(), "{letter}");
        assert!(
            letter["broker"]["message_id"].as_str().is_some(),
            "{letter}"
        );
    }
    // Each event keeps its MessageId and message attributes.
    let event = &events[0];
    assert_eq!(event["source_id"], uid);
    assert!(
        event["broker"]["message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let trace_id: u64 = event["broker"]["attributes"]["trace-id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let seq = event["data"]["seq"].as_u64().unwrap();
    assert_eq!(trace_id, if seq < 100 { seq } else { seq + 3 });

    // Deleted only once stored, and all of them: the queue ends empty.
    wait_until_empty(&sqs, &queue, 30).await;
    let dead = format!("inlet_dead_letters_total{{source=\"{uid}\"}}");
    assert_eq!(c.metric(&dead).await, 3.0);
    let accepted = format!("inlet_events_accepted_total{{source=\"{uid}\"}}");
    assert_eq!(c.metric(&accepted).await, VALID as f64);
    assert_eq!(c.source_status(&project, uid).await["state"], "running");
    t.stop().await;
}

#[tokio::test]
async fn sqs_sigkill_mid_drain_then_restart_stores_every_message_exactly_once() {
    const MESSAGES: usize = 400;
    let sqs = Sqs::start().await;
    // Short visibility: what the killed Inlet held comes back soon.
    let queue = sqs.create_queue("orders", 2).await;
    sqs.send(&queue, (0..MESSAGES).map(event_body).collect())
        .await;

    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let (project, _) = inlet.client.create_project("outgoing").await;
    let source = inlet
        .client
        .create_source(&project, sqs_source(&sqs, &queue, 2))
        .await;
    let uid = source["uid"].as_str().unwrap().to_string();
    let stored_before_kill = inlet.client.wait_for_accepted(&uid, 50.0, 60).await;
    drop(inlet); // SIGKILL: messages in hand are neither stored nor deleted.

    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    // Deleted only once stored: when the queue is empty, every message is in.
    wait_until_empty(&sqs, &queue, 120).await;
    let events = inlet.client.all_events(&project).await;
    assert_eq!(events.len(), MESSAGES, "each message stored once");
    assert_eq!(event_seqs(&events).len(), MESSAGES, "no duplicate events");
    assert!(stored_before_kill < MESSAGES as f64, "killed mid-drain");
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
}

#[tokio::test]
async fn sqs_source_shows_wrong_credentials_and_a_missing_queue_and_recovers_when_fixed() {
    let sqs = Sqs::start().await;
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;

    // Wrong secret: refused by the server, shown on the source.
    let queue = sqs.create_queue("orders", 30).await;
    sqs.send(&queue, vec![event_body(0)]).await;
    let mut wrong = sqs_source(&sqs, "orders", 1);
    wrong["pub_sub"]["sqs"]["secret_key"] = json!("not-the-secret");
    let source = c.create_source(&project, wrong).await;
    let uid = source["uid"].as_str().unwrap();
    let status = c.wait_for_failure(&project, uid, "", 30).await;
    let error = status["last_error"].as_str().unwrap();
    // moto's refusal is XML that the SDK does not parse into a code; its text is the
    // server's, so it is not shown.
    assert!(error.contains("HTTP 403"), "{status}");
    assert!(!error.contains("not-the-secret"), "{status}");
    let errors = format!("inlet_broker_source_errors_total{{source=\"{uid}\"}}");
    assert!(c.metric(&errors).await >= 1.0);

    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let reply = c
        .api(
            Method::PUT,
            &path,
            ADMIN_TOKEN,
            Some(sqs_source(&sqs, "orders", 1)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    c.wait_for_events(&project, 1, 60).await;
    assert_eq!(c.source_status(&project, uid).await["state"], "running");

    // A queue that does not exist yet: shown, then found once it is created.
    let reply = c
        .api(
            Method::PUT,
            &path,
            ADMIN_TOKEN,
            Some(sqs_source(&sqs, "invoices", 1)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let status = c.wait_for_failure(&project, uid, "invoices", 30).await;
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("NonExistentQueue"),
        "{status}"
    );
    let invoices = sqs.create_queue("invoices", 30).await;
    sqs.send(&invoices, vec![event_body(1)]).await;
    let events = c.wait_for_events(&project, 2, 60).await;
    assert_eq!(event_seqs(&events), HashSet::from([0, 1]));
    assert_eq!(c.source_status(&project, uid).await["state"], "running");
    wait_until_empty(&sqs, &invoices, 30).await;
    t.stop().await;
}
