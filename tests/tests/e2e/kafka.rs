use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use hyper::{Method, StatusCode};
use inlet_tests::kafka::{Kafka, event_body, kafka_source};
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, TestServer, eventually, spawn_inlet};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::{Value, json};

const TOPIC: &str = "orders";

/// (partition, seq) of each event, in storage order.
fn positions(events: &[Value]) -> Vec<(i64, u64)> {
    events
        .iter()
        .map(|e| {
            (
                e["data"]["partition"].as_i64().unwrap(),
                e["data"]["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A broker with `partitions` partitions of the topic, Inlet, and an outgoing project with
/// a Kafka source on it; returns the project and source uids.
async fn kafka_and_inlet(
    partitions: i32,
    group: &str,
    workers: u32,
) -> (Kafka, TestServer, String, String) {
    let kafka = Kafka::start(TOPIC, partitions);
    let t = TestServer::start().await;
    let (project, _) = t.client.create_project("outgoing").await;
    let source = t
        .client
        .create_source(
            &project,
            kafka_source(&kafka.brokers(), TOPIC, group, workers),
        )
        .await;
    let uid = source["uid"].as_str().unwrap().to_string();
    (kafka, t, project, uid)
}

#[tokio::test]
async fn kafka_source_configuration_is_validated_and_its_password_masked() {
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (outgoing, _) = c.create_project("outgoing").await;
    let (incoming, _) = c.create_project("incoming").await;
    let path = format!("/api/v1/projects/{outgoing}/sources");
    let good = kafka_source("127.0.0.1:9", TOPIC, "g", 1);
    let cases = [
        (
            json!({"pub_sub": null}),
            "invalid_field",
            "pub_sub: required",
        ),
        (
            json!({"pub_sub": {"type": "kafka"}}),
            "invalid_field",
            "pub_sub.kafka: required",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "workers": 0, "kafka": good["pub_sub"]["kafka"]}}),
            "invalid_field",
            "pub_sub.workers",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "kafka": {"brokers": [], "topic_name": "t"}}}),
            "invalid_field",
            "pub_sub.kafka.brokers",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "kafka": {"brokers": ["nohost"], "topic_name": "t"}}}),
            "invalid_field",
            "\"nohost\" is not host:port",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "kafka": {"brokers": ["k:9092"], "topic_name": "a b"}}}),
            "invalid_field",
            "pub_sub.kafka.topic_name",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "kafka": {"brokers": ["k:9092"], "topic_name": "t", "auth": {"type": "scram", "username": "u", "password": "p"}}}}),
            "invalid_field",
            "pub_sub.kafka.auth.hash",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "kafka": {"brokers": ["k:9092"], "topic": "t"}}}),
            "invalid_json",
            "pub_sub.kafka",
        ),
        (
            json!({"pub_sub": {"type": "rabbitmq"}}),
            "invalid_json",
            "pub_sub.type",
        ),
        (
            json!({"pub_sub": {"type": "kafka", "kafka": {"brokers": ["127.0.0.1:9"], "topic_name": "t",
                "auth": {"type": "plain", "tls": false, "username": "svc", "password": "p"}}}}),
            "invalid_field",
            "pub_sub.kafka.auth.tls: must be true",
        ),
        (
            json!({"pub_sub": {"type": "google", "kafka": good["pub_sub"]["kafka"]}}),
            "invalid_field",
            "pub_sub.google: required",
        ),
    ];
    for (patch, code, message) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        c.assert_bad_request(&path, body, code, message).await;
    }
    let reply = c
        .api(
            Method::POST,
            &format!("/api/v1/projects/{incoming}/sources"),
            ADMIN_TOKEN,
            Some(good.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text().contains("outgoing projects"),
        "{}",
        reply.text()
    );

    let mut with_auth = good.clone();
    with_auth["pub_sub"]["kafka"]["consumer_group_id"] = json!("");
    with_auth["pub_sub"]["kafka"]["auth"] =
        json!({"type": "plain", "tls": true, "username": "svc", "password": "kafka-secret-1"});
    let source = c.create_source(&outgoing, with_auth).await;
    let uid = source["uid"].as_str().unwrap();
    let kafka = &source["pub_sub"]["kafka"];
    assert_eq!(kafka["auth"]["password"], "********");
    assert_eq!(kafka["consumer_group_id"], format!("inlet-{uid}"));
    assert!(
        source.get("url").is_none(),
        "a pub_sub source has no ingest URL"
    );
    assert!(!source.to_string().contains("kafka-secret-1"));
    // Nothing listens on port 9: the source says so rather than failing silently.
    let status = c.wait_for_failure(&outgoing, uid, "", 20).await;
    assert!(
        status["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );
    let reply = c
        .api(Method::GET, "/metrics", ADMIN_TOKEN, None)
        .await
        .text();
    assert!(
        reply.contains(&format!(
            "inlet_broker_source_state{{source=\"{uid}\",state=\"retrying\"}} 1"
        )),
        "{reply}"
    );

    // Disabling stops the consumers; the status says so.
    let reply = c
        .api(
            Method::PUT,
            &format!("{path}/{uid}"),
            ADMIN_TOKEN,
            Some(json!({"is_disabled": true})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["data"]["status"]["state"], "stopped");
    t.stop().await;
}

#[tokio::test]
async fn kafka_thousands_of_messages_are_stored_once_in_partition_order_and_committed() {
    let (kafka, mut t, project, uid) = kafka_and_inlet(4, "inlet-drain", 2).await;
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    kafka.produce(
        TOPIC,
        (0..4).flat_map(|p| {
            keys.iter()
                .enumerate()
                .map(move |(i, k)| (p, k.as_str(), event_body(p, i as u32)))
        }),
    );

    let accepted = format!("inlet_events_accepted_total{{source=\"{uid}\"}}");
    // When the second worker's join misses the group's first generation, the mock broker
    // holds the next rebalance 44 s (session timeout - 1 s); twice under load.
    eventually(150, "4000 events stored", || async {
        (t.client.metric(&accepted).await == 4000.0).then_some(())
    })
    .await;
    let events = t.client.all_events(&project).await;
    assert_eq!(events.len(), 4000);
    let mut next_seq = BTreeMap::new();
    for (event, (partition, seq)) in events.iter().zip(positions(&events)) {
        // Storage order keeps each partition's order, so each partition's seqs count up.
        let expected = next_seq.entry(partition).or_insert(0);
        assert_eq!(
            seq, *expected,
            "partition {partition} out of order or duplicated"
        );
        *expected += 1;
        let broker = &event["broker"];
        assert_eq!(broker["topic"], TOPIC);
        assert_eq!(broker["partition"], partition);
        assert_eq!(broker["offset"], seq);
        assert_eq!(broker["message_id"], format!("{TOPIC}/{partition}/{seq}"));
        assert_eq!(broker["key"], format!("k{seq}"));
        assert_eq!(broker["attributes"]["trace-id"], format!("k{seq}"));
        assert_eq!(event["source_id"], uid.as_str());
        assert_eq!(event["event_type"], "order.created");
        assert_eq!(event["endpoint_id"], "endpoint-1");
        assert_eq!(event["headers"]["x-origin"], json!(["kafka-test"]));
        assert_eq!(
            event["raw"],
            event["data"].to_string(),
            "raw is the data's text"
        );
        assert!(event.get("raw_encoding").is_none());
    }
    assert_eq!(next_seq.values().collect::<Vec<_>>(), vec![&1000; 4]);

    eventually(20, "offsets committed", || async {
        let committed = kafka.committed("inlet-drain", TOPIC, 4);
        (committed == vec![1000; 4]).then_some(())
    })
    .await;
    assert_eq!(
        t.client.source_status(&project, &uid).await["state"],
        "running"
    );

    // Consumers start again with Inlet and go on from the commit.
    t.restart().await;
    kafka.produce(TOPIC, (0..4).map(|p| (p, "after", event_body(p, 1000))));
    // The group forms again first, which on the mock broker can take its 44 s rebalance,
    // and, when a member's leave was cut short by the stop's time limit (a loaded machine:
    // the whole suite timed out here once at 120 s), its 45 s session timeout before that.
    eventually(180, "4 more events stored", || async {
        (t.client.metric(&accepted).await == 4.0).then_some(())
    })
    .await;
    let events = t.client.all_events(&project).await;
    assert_eq!(events.len(), 4004);
    let unique: HashSet<_> = positions(&events).into_iter().collect();
    assert_eq!(unique.len(), 4004);
    t.stop().await;
}

#[tokio::test]
async fn kafka_malformed_messages_become_dead_letters_and_do_not_block_the_partition() {
    let (kafka, mut t, project, uid) = kafka_and_inlet(1, "inlet-dlq", 1).await;
    let c = &t.client;
    let messages: Vec<Vec<u8>> = vec![
        event_body(0, 0),
        b"this is not json".to_vec(),
        br#"{"event_type": "x", "data": {}}"#.to_vec(),
        vec![0xff, 0xfe, 0x00],
        Vec::new(),
        event_body(0, 1),
    ];
    kafka.produce(TOPIC, messages.into_iter().map(|m| (0, "k", m)));

    let events = c.wait_for_events(&project, 2, 30).await;
    assert_eq!(positions(&events), vec![(0, 0), (0, 1)]);
    assert_eq!(events[1]["broker"]["offset"], 5);

    let letters = c.wait_for_dead_letters(&project, 4, 10).await;
    let offsets: Vec<_> = letters
        .iter()
        .map(|l| l["broker"]["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, vec![1, 2, 3, 4]);
    assert_eq!(letters[0]["raw"], "this is not json");
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{}",
        letters[0]
    );
    assert!(
        letters[1]["reason"]
            .as_str()
            .unwrap()
            .contains("endpoint_id"),
        "{}",
        letters[1]
    );
    assert_eq!(letters[2]["raw_encoding"], "base64");
    assert_eq!(letters[2]["raw"], "//4A");
    assert!(
        letters[3]["reason"].as_str().unwrap().contains("empty"),
        "{}",
        letters[3]
    );
    for letter in &letters {
        assert_eq!(letter["source_id"], uid);
        assert_eq!(letter["broker"]["topic"], TOPIC);
        assert!(
            letter["created_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("20"))
        );
    }
    // Paged like events, filterable by source.
    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{project}/dead-letters?perPage=3&sourceId={uid}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    let page = &reply.json()["data"];
    assert_eq!(page["content"].as_array().unwrap().len(), 3);
    assert_eq!(page["content"][0]["broker"]["offset"], 4, "newest first");
    assert_eq!(page["pagination"]["has_next_page"], true);

    let dead = format!("inlet_dead_letters_total{{source=\"{uid}\"}}");
    assert_eq!(c.metric(&dead).await, 4.0);
    eventually(20, "offset 6 committed", || async {
        (kafka.committed("inlet-dlq", TOPIC, 1) == vec![6]).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn kafka_sigkill_mid_drain_then_restart_stores_every_message_exactly_once() {
    const PER_PARTITION: u32 = 10_000;
    let kafka = Kafka::start(TOPIC, 3);
    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let (project, _) = inlet.client.create_project("outgoing").await;
    let source = inlet
        .client
        .create_source(
            &project,
            kafka_source(&kafka.brokers(), TOPIC, "inlet-kill", 2),
        )
        .await;
    let uid = source["uid"].as_str().unwrap().to_string();
    kafka.produce(
        TOPIC,
        (0..3).flat_map(|p| (0..PER_PARTITION).map(move |i| (p, "k", event_body(p, i)))),
    );
    let stored_before_kill = inlet.client.wait_for_accepted(&uid, 2000.0, 60).await;
    drop(inlet); // SIGKILL: no graceful shutdown, no final commit.

    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    // Committed only once stored: when every offset is committed, every message is in.
    eventually(180, "every offset committed", || async {
        (kafka.committed("inlet-kill", TOPIC, 3) == vec![PER_PARTITION as i64; 3]).then_some(())
    })
    .await;
    let events = inlet.client.all_events(&project).await;
    assert_eq!(
        events.len(),
        3 * PER_PARTITION as usize,
        "each message stored once"
    );
    let unique: HashSet<_> = positions(&events).into_iter().collect();
    assert_eq!(unique.len(), events.len(), "no duplicate events");
    assert!(stored_before_kill < events.len() as f64, "killed mid-drain");
    // Sampled before the kill, that count cannot tell whether the drain was still going
    // when the process died. What the store held then can: below every message only if
    // the restarted process had messages left to take over.
    let stored_at_kill = inlet.client.stored_at_kill(&uid, events.len()).await;
    assert!(
        stored_at_kill >= stored_before_kill,
        "{stored_at_kill} stored at the kill, {stored_before_kill} seen before it"
    );
    assert!(
        stored_at_kill < events.len() as f64,
        "killed mid-drain: {stored_at_kill} of {} were stored at the kill",
        events.len()
    );
}

#[tokio::test]
async fn kafka_messages_delivered_again_after_an_offset_rewind_are_not_stored_twice() {
    let (kafka, mut t, project, uid) = kafka_and_inlet(2, "inlet-rewind", 1).await;
    kafka.produce(
        TOPIC,
        (0..2).flat_map(|p| (0..50).map(move |i| (p, "k", event_body(p, i)))),
    );
    eventually(60, "every offset committed", || async {
        (kafka.committed("inlet-rewind", TOPIC, 2) == vec![50; 2]).then_some(())
    })
    .await;
    t.stop().await;
    // The group is rewound while Inlet is down: every message is delivered again.
    kafka.rewind("inlet-rewind", TOPIC, 2, 0);
    assert_eq!(kafka.committed("inlet-rewind", TOPIC, 2), vec![0; 2]);
    t.restart().await;
    let redelivered = format!("inlet_broker_redeliveries_total{{source=\"{uid}\"}}");
    // Joining again after the rewind can take the mock's 44 s rebalance.
    eventually(120, "100 redeliveries recognised", || async {
        (t.client.metric(&redelivered).await == 100.0).then_some(())
    })
    .await;
    // What follows the stored offsets is stored as usual.
    kafka.produce(TOPIC, [(1, "new", event_body(1, 50))]);
    t.client.wait_for_accepted(&uid, 1.0, 60).await;
    let events = t.client.all_events(&project).await;
    assert_eq!(
        events.len(),
        101,
        "no message stored twice, the new one stored"
    );
    let unique: HashSet<_> = positions(&events).into_iter().collect();
    assert_eq!(unique.len(), 101);
    eventually(20, "offsets committed again", || async {
        (kafka.committed("inlet-rewind", TOPIC, 2) == vec![50, 51]).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn kafka_source_recovers_by_itself_when_the_broker_comes_up() {
    let kafka = Kafka::start(TOPIC, 2);
    kafka.cluster.broker_down(1).unwrap();
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let source = c
        .create_source(
            &project,
            kafka_source(&kafka.brokers(), TOPIC, "inlet-outage", 1),
        )
        .await;
    let uid = source["uid"].as_str().unwrap();
    let status = c.wait_for_failure(&project, uid, "", 30).await;
    assert!(
        status["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );

    kafka.cluster.broker_up(1).unwrap();
    kafka.produce(
        TOPIC,
        (0..2).flat_map(|p| (0..5).map(move |i| (p, "k", event_body(p, i)))),
    );
    c.wait_for_events(&project, 10, 60).await;
    let status = c.source_status(&project, uid).await;
    assert_eq!(status["state"], "running", "{status}");
    assert!(
        status["last_error"].as_str().is_some(),
        "the last error stays visible"
    );
    t.stop().await;
}

#[tokio::test]
async fn kafka_deleted_source_stops_consuming_and_leaves_its_group() {
    let (kafka, mut t, project, uid) = kafka_and_inlet(3, "inlet-delete", 1).await;
    let c = &t.client;
    kafka.produce(
        TOPIC,
        (0..3).flat_map(|p| (0..10).map(move |i| (p, "k", event_body(p, i)))),
    );
    c.wait_for_events(&project, 30, 60).await;
    // Committed before the group changes: librdkafka's commit of revoked partitions is
    // refused by the mock broker during a rebalance (a real broker takes it).
    eventually(20, "offsets committed", || async {
        (kafka.committed("inlet-delete", TOPIC, 3) == vec![10; 3]).then_some(())
    })
    .await;

    // Another member joins Inlet's group and gets a share of the partitions.
    let member: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.brokers())
        .set("group.id", "inlet-delete")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    member.subscribe(&[TOPIC]).unwrap();
    let assigned = |n: usize| {
        let member = &member;
        async move {
            // Polling serves the member's rebalances; nothing is in the topic to read yet.
            let _ = tokio::time::timeout(Duration::from_millis(100), member.recv()).await;
            (member.assignment().unwrap().count() == n).then_some(())
        }
    };
    eventually(90, "a shared group", || async {
        let _ = tokio::time::timeout(Duration::from_millis(100), member.recv()).await;
        let n = member.assignment().unwrap().count();
        (n == 1 || n == 2).then_some(())
    })
    .await;

    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let reply = c.api(Method::DELETE, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Inlet's member left the group, so a rebalance hands every partition to the other
    // member. The mock broker lets a rebalance run 44 s (session timeout - 1 s) before it
    // assigns; a member that merely stopped polling would first hold its partitions for
    // its 45 s session timeout, so a handover within 75 s means it left.
    eventually(75, "all partitions handed over", || assigned(3)).await;

    kafka.produce(
        TOPIC,
        (0..3).flat_map(|p| (10..20).map(move |i| (p, "k", event_body(p, i)))),
    );
    let mut seen = HashSet::new();
    while seen.len() < 30 {
        let message = tokio::time::timeout(Duration::from_secs(20), member.recv())
            .await
            .expect("new messages reach the remaining member")
            .unwrap();
        assert!(message.offset() >= 10, "read from Inlet's commit");
        seen.insert((message.partition(), message.offset()));
    }
    assert_eq!(
        c.all_events(&project).await.len(),
        30,
        "nothing consumed after deletion"
    );
    t.stop().await;
}

#[tokio::test]
async fn kafka_source_update_restarts_its_consumers_on_the_new_topic() {
    let (kafka, mut t, project, uid) = kafka_and_inlet(1, "inlet-update-1", 1).await;
    kafka.cluster.create_topic("invoices", 1, 1).unwrap();
    let c = &t.client;
    kafka.produce(TOPIC, [(0, "k", event_body(0, 0))]);
    c.wait_for_events(&project, 1, 60).await;

    let mut update = kafka_source(&kafka.brokers(), "invoices", "inlet-update-2", 1);
    update["name"] = json!("invoices");
    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, Some(update)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    kafka.produce("invoices", [(0, "k", event_body(0, 1))]);
    kafka.produce(TOPIC, [(0, "k", event_body(0, 2))]);
    let events = c.wait_for_events(&project, 2, 60).await;
    assert_eq!(events[1]["broker"]["topic"], "invoices");
    assert_eq!(
        positions(&events),
        vec![(0, 0), (0, 1)],
        "the old topic is no longer read"
    );
    t.stop().await;
}

#[test]
fn a_slow_stop_of_one_source_holds_up_no_other_source() {
    // The consumer whose stop timed out may wait in its close for as long as its broker is
    // away (the mock broker does not always come back on its port): the runtime leaves it,
    // as Inlet's own exit does.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(slow_stop_of_one_source_holds_up_no_other_source());
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn slow_stop_of_one_source_holds_up_no_other_source() {
    let (kafka, mut t, project, uid) = kafka_and_inlet(1, "inlet-slow-stop", 1).await;
    let c = t.client.clone();
    kafka.produce(TOPIC, [(0, "k", event_body(0, 0))]);
    c.wait_for_events(&project, 1, 60).await;
    // With its broker gone, the consumer's final commit and group leave wait for it: the
    // stop that disabling starts takes up to STOP_TIMEOUT.
    kafka.cluster.broker_down(1).unwrap();
    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let disabling = {
        let c = c.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let body = json!({"is_disabled": true});
            let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, Some(body)).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Meanwhile another source is created and deleted, promptly.
    let started = std::time::Instant::now();
    let other = c
        .create_source(&project, kafka_source("127.0.0.1:9", TOPIC, "other", 1))
        .await;
    let other = format!(
        "/api/v1/projects/{project}/sources/{}",
        other["uid"].as_str().unwrap()
    );
    let reply = c.api(Method::DELETE, &other, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let other_took = started.elapsed();
    let disable_took = disabling.await.unwrap();
    assert!(
        disable_took > Duration::from_secs(10),
        "the stop was not slow ({disable_took:?}): this test shows nothing"
    );
    assert!(
        other_took < Duration::from_secs(5),
        "another source's create and delete took {other_took:?} behind a slow stop"
    );
    kafka.cluster.broker_up(1).unwrap();
    t.stop().await;
}
