//! The operator's allow-list of outgoing destinations (`--allow-outbound`): broker sources
//! cannot point Inlet anywhere else, not when written and not when started, and what a
//! server answers never comes back through a source's status.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::{Method, StatusCode};
use inlet_model::outbound::AllowList;
use inlet_tests::kafka::kafka_source;
use inlet_tests::pubsub::google_source;
use inlet_tests::{ADMIN_TOKEN, TestServer, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sqs_source(endpoint: &str, queue_name: &str) -> Value {
    json!({
        "name": "sqs",
        "type": "pub_sub",
        "pub_sub": {"type": "sqs", "sqs": {
            "access_key_id": "AKIA0000", "secret_key": "s3cret-key",
            "default_region": "us-east-1", "queue_name": queue_name, "endpoint": endpoint
        }}
    })
}

#[tokio::test]
async fn no_caller_can_point_a_source_outside_the_allow_list() {
    // The test server allows 127.0.0.1 only.
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let key = key.unwrap();
    let path = format!("/api/v1/projects/{project}/sources");
    let mut two_brokers = kafka_source("127.0.0.1:9092", "orders", "g", 1);
    two_brokers["pub_sub"]["kafka"]["brokers"] = json!(["127.0.0.1:9092", "10.0.0.1:9092"]);
    let outside = [
        (
            sqs_source("http://169.254.169.254", "orders"),
            "pub_sub.sqs.endpoint",
            "169.254.169.254:80",
        ),
        (
            sqs_source(
                "http://127.0.0.1:4566",
                "http://10.0.0.1/123456789012/orders",
            ),
            "pub_sub.sqs.queue_name",
            "10.0.0.1:80",
        ),
        (
            google_source("http://localhost:8085", "orders-inlet", 1),
            "pub_sub.google.endpoint",
            "localhost:8085",
        ),
        (two_brokers, "pub_sub.kafka.brokers", "10.0.0.1:9092"),
    ];
    for (body, field, destination) in outside {
        for token in [key.as_str(), ADMIN_TOKEN] {
            let reply = c.api(Method::POST, &path, token, Some(body.clone())).await;
            let context = format!("{body}: {}", reply.text());
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{context}");
            assert_eq!(reply.code(), "outbound_not_allowed", "{context}");
            let message = reply.json()["message"].as_str().unwrap().to_string();
            assert!(message.starts_with(&format!("{field}:")), "{context}");
            assert!(message.contains(destination), "{context}");
            assert!(message.contains("--allow-outbound"), "{context}");
        }
    }
    // A host field cannot add brokers of its own.
    let smuggled = kafka_source("127.0.0.1:9092,10.0.0.1:9092", "orders", "g", 1);
    let reply = c.api(Method::POST, &path, &key, Some(smuggled)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.code(), "invalid_field", "{}", reply.text());

    // Nor can an update move an allowed source outside.
    let reply = c
        .api(
            Method::POST,
            &path,
            &key,
            Some(sqs_source("http://127.0.0.1:9", "orders")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let uid = reply.json()["data"]["uid"].as_str().unwrap().to_string();
    let moved = sqs_source("http://10.0.0.1:4566", "orders");
    let reply = c
        .api(Method::PUT, &format!("{path}/{uid}"), &key, Some(moved))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.code(), "outbound_not_allowed", "{}", reply.text());
    let listed = c.api(Method::GET, &path, &key, None).await.json();
    let sources = listed["data"]["content"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{listed}");
    assert_eq!(
        sources[0]["pub_sub"]["sqs"]["endpoint"],
        "http://127.0.0.1:9"
    );
    t.stop().await;
}

/// A loopback server that counts the connections it accepts and answers each with a 500
/// whose body carries `marker`.
async fn counting_server(marker: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0; 4096];
                let _ = tcp.read(&mut request).await;
                let body = format!(
                    r#"{{"__type": "InternalFailure", "message": "internal service says {marker}"}}"#
                );
                let response = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: \
                     application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(response.as_bytes()).await;
            });
        }
    });
    (endpoint, accepted)
}

#[tokio::test]
async fn a_servers_answer_never_reaches_the_status_only_its_status_code() {
    const MARKER: &str = "MARKER-5d1c-internal-body";
    let (endpoint, accepted) = counting_server(MARKER).await;
    let mut t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let sqs = c
        .create_source(&project, sqs_source(&endpoint, "orders"))
        .await;
    let google = c
        .create_source(&project, google_source(&endpoint, "orders-inlet", 1))
        .await;
    let sqs = sqs["uid"].as_str().unwrap();
    let status = c.wait_for_failure(&project, sqs, "HTTP 500", 30).await;
    assert!(!status.to_string().contains("internal service"), "{status}");
    assert!(!status.to_string().contains(MARKER), "{status}");
    let google = google["uid"].as_str().unwrap();
    let status = c.wait_for_failure(&project, google, "", 30).await;
    assert!(!status.to_string().contains(MARKER), "{status}");
    assert!(accepted.load(Ordering::SeqCst) > 0);
    t.stop().await;
}

#[tokio::test]
async fn a_source_stored_while_allowed_does_not_connect_once_the_list_narrows() {
    let (endpoint, accepted) = counting_server("unused").await;
    let mut t = TestServer::start().await;
    let (project, _) = t.client.create_project("outgoing").await;
    let source = t
        .client
        .create_source(&project, sqs_source(&endpoint, "orders"))
        .await;
    let uid = source["uid"].as_str().unwrap().to_string();
    eventually(30, "a connection", || async {
        (accepted.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;

    t.restart_with(|s| s.allow_outbound = AllowList::default())
        .await;
    let connections_before = accepted.load(Ordering::SeqCst);
    let c = &t.client;
    let status = eventually(10, "the source refused", || async {
        let status = c.source_status(&project, &uid).await;
        (status["state"] == "refused").then_some(status)
    })
    .await;
    let reason = status["last_error"].as_str().unwrap();
    assert!(reason.starts_with("pub_sub.sqs.endpoint:"), "{status}");
    assert!(reason.contains("--allow-outbound"), "{status}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        connections_before,
        "connected outside the allow-list"
    );
    assert_eq!(c.source_status(&project, &uid).await["state"], "refused");
    t.stop().await;
}

/// An allowed bootstrap server whose cluster advertises another broker: the consumer never
/// subscribes, so it never connects to that broker.
#[tokio::test]
async fn a_kafka_cluster_that_advertises_a_broker_outside_the_list_is_refused() {
    let cluster = rdkafka::mocking::MockCluster::new(2).unwrap();
    cluster.create_topic("orders", 1, 1).unwrap();
    let servers = cluster.bootstrap_servers();
    let (first, second) = servers.split_once(',').unwrap();
    let (first, second) = (first.to_string(), second.to_string());
    let allow = AllowList::parse([first.as_str()]).unwrap();
    let t = TestServer::start_with(|s| s.allow_outbound = allow).await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let source = c
        .create_source(&project, kafka_source(&first, "orders", "g", 1))
        .await;
    let uid = source["uid"].as_str().unwrap();
    let status = eventually(20, "the source refused", || async {
        let status = c.source_status(&project, uid).await;
        (status["state"] == "refused").then_some(status)
    })
    .await;
    let reason = status["last_error"].as_str().unwrap();
    assert!(
        reason.contains(&second) && reason.contains("--allow-outbound"),
        "{status}"
    );
}
