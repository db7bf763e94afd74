//! Delivery to endpoints, end to end: a real receiver on loopback (which test servers may
//! reach: they allow 127.0.0.1 outbound, as for the test brokers), events sent through the
//! REST API, HTTP sources and Kafka, signatures checked by the test's own HMAC code.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use hyper::{Method, StatusCode};
use inlet_tests::receiver::{Answer, Received, Receiver};
use std::collections::HashSet;

use inlet_tests::kafka::{Kafka, kafka_source};
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, Client, TestServer, eventually, spawn_inlet};
use serde_json::{Value, json};
use sha2::Sha256;

/// An outgoing project with this retry strategy; its uid and API key.
async fn project(c: &Client, strategy: Value) -> (String, String) {
    c.create_outgoing_project(json!({"strategy": strategy}))
        .await
}

/// One second between attempts, `retries` retries.
pub(crate) fn fast(retries: u64) -> Value {
    json!({"type": "linear", "duration": 1, "retry_count": retries})
}

pub(crate) async fn send_event(c: &Client, project: &str, key: &str, body: Value) -> Value {
    let path = format!("/api/v1/projects/{project}/events");
    let reply = c.api(Method::POST, &path, key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["data"].clone()
}

/// The event's deliveries, once they all are final (or `secs` passed).
pub(crate) async fn final_deliveries(
    c: &Client,
    project: &str,
    event: &str,
    secs: u64,
) -> Vec<Value> {
    eventually(secs, "final deliveries", || async {
        let path = format!("/api/v1/projects/{project}/eventdeliveries?eventId={event}");
        let reply = c.api(Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let content = reply.json()["data"]["content"].as_array().unwrap().clone();
        let done = !content.is_empty()
            && content.iter().all(|d| {
                ["Success", "Failure", "Discarded"].contains(&d["status"].as_str().unwrap())
            });
        done.then_some(content)
    })
    .await
}

async fn attempts(c: &Client, project: &str, delivery: &str) -> Vec<Value> {
    let path = format!("/api/v1/projects/{project}/eventdeliveries/{delivery}/deliveryattempts");
    let reply = c.api(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["data"].as_array().unwrap().clone()
}

fn hmac_hex(secret: &[u8], content: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(content);
    hex::encode(mac.finalize().into_bytes())
}

/// The `v1` values of a Convoy advanced signature that verify for `secret`.
fn convoy_signature_valid(received: &Received, secret: &str) -> bool {
    let header = received.header("x-convoy-signature").unwrap();
    let mut parts = header.split(',');
    let t = parts.next().unwrap().strip_prefix("t=").unwrap();
    let mut content = format!("{t},").into_bytes();
    content.extend_from_slice(&received.body);
    let expected = hmac_hex(secret.as_bytes(), &content);
    parts.any(|part| part.strip_prefix("v1=") == Some(expected.as_str()))
}

#[tokio::test]
async fn an_event_arrives_signed_and_byte_exact_and_its_attempt_is_recorded() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::scripted(|_| Answer::status(200).body("thanks")).await;
    let (project, key) = project(c, fast(3)).await;
    let secret = "a-secret-the-test-knows";
    let ep = c.create_endpoint(&project,
        json!({"url": receiver.url("/hooks"), "name": "billing", "secret": secret,
               "authentication": {"type": "api_key", "api_key": {"header_name": "X-Api-Key", "header_value": "key-123"}}}),
    )
    .await;
    let endpoint_id = ep["uid"].as_str().unwrap();
    let event = send_event(
        c,
        &project,
        &key,
        json!({"endpoint_id": endpoint_id, "event_type": "invoice.paid",
               "custom_headers": {"X-Tenant": "acme"},
               "data": {"amount": 12.50, "items": [1, 2, 3]}}),
    )
    .await;
    let event_id = event["uid"].as_str().unwrap();

    let got = receiver.wait_for(1, 10).await;
    assert_eq!(got.len(), 1, "one request");
    let request = &got[0];
    assert_eq!(request.path, "/hooks");
    assert_eq!(request.body, event["raw"].as_str().unwrap().as_bytes());
    assert!(
        convoy_signature_valid(request, secret),
        "{:?}",
        request.headers
    );
    assert_eq!(request.header("x-api-key"), Some("key-123"));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request.header("user-agent").unwrap().starts_with("Inlet/"));
    let idempotency = request
        .header("x-convoy-idempotency-key")
        .unwrap()
        .to_string();

    let deliveries = final_deliveries(c, &project, event_id, 10).await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "Success");
    assert_eq!(delivery["endpoint_id"], endpoint_id);
    assert_eq!(delivery["event_id"], event_id);
    assert_eq!(delivery["uid"], idempotency.as_str());
    let attempts = attempts(c, &project, delivery["uid"].as_str().unwrap()).await;
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!(attempt["http_status"], "200 OK");
    assert_eq!(attempt["status"], true);
    assert_eq!(attempt["response_data"], "thanks");
    let latency = attempt["latency_seconds"].as_f64();
    assert!(latency.is_some_and(|l| l > 0.0), "{attempt}");
    assert_eq!(attempt["msg_id"], delivery["uid"]);
    let recorded = attempt.to_string();
    assert!(
        !recorded.contains("key-123"),
        "the API key is masked: {recorded}"
    );
    assert!(!recorded.contains(secret));
}

/// Every answer but a 2xx is retried on the project's schedule; after the last retry the
/// delivery is `Failure`, with every attempt recorded.
#[tokio::test]
async fn a_failing_endpoint_is_retried_on_the_projects_schedule_then_fails() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::scripted(|_| Answer::status(500).body("down")).await;
    let (project, key) = project(c, fast(2)).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    let event = send_event(
        c,
        &project,
        &key,
        json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {"n": 1}}),
    )
    .await;
    let deliveries = final_deliveries(c, &project, event["uid"].as_str().unwrap(), 20).await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "Failure");
    assert_eq!(delivery["metadata"]["num_trials"], 3);
    assert_eq!(delivery["description"], "Endpoint returned status code 500");
    let got = receiver.received();
    assert_eq!(got.len(), 3, "the first attempt and two retries");
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    }
    let idempotency: Vec<_> = got
        .iter()
        .map(|r| r.header("x-convoy-idempotency-key"))
        .collect();
    assert!(
        idempotency.windows(2).all(|w| w[0] == w[1]),
        "stable across retries"
    );
    let attempts = attempts(c, &project, delivery["uid"].as_str().unwrap()).await;
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a["http_status"] == "500 Internal Server Error")
    );
    assert!(
        attempts.iter().all(|a| a.get("status").is_none()),
        "false is left out"
    );
}

/// A receiver that times out, then answers 429 with `Retry-After`, then recovers: the
/// delivery succeeds, the wait after the 429 is the one asked for.
#[tokio::test]
async fn timeouts_and_retry_after_are_handled_and_the_endpoint_recovers() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::scripted(|n| match n {
        0 => Answer::status(200).after(Duration::from_secs(3)),
        1 => Answer::status(429).header("Retry-After", "3"),
        _ => Answer::status(204),
    })
    .await;
    let (project, key) = project(c, fast(5)).await;
    let ep = c
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/"), "name": "e", "http_timeout": 1}),
        )
        .await;
    let event = send_event(
        c,
        &project,
        &key,
        json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {}}),
    )
    .await;
    let deliveries = final_deliveries(c, &project, event["uid"].as_str().unwrap(), 30).await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "Success");
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    let after_429 = got[2].at - got[1].at;
    assert!(
        after_429 >= Duration::from_millis(2900),
        "Retry-After honoured: {after_429:?}"
    );
    let attempts = attempts(c, &project, delivery["uid"].as_str().unwrap()).await;
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("timed out"),
        "{}",
        attempts[0]
    );
    assert!(attempts[0]["responded_at"].is_null());
    assert_eq!(attempts[1]["http_status"], "429 Too Many Requests");
    assert_eq!(attempts[2]["status"], true);
}

/// Nothing listens at first: the connection is refused and retried until the endpoint is
/// back on its port.
#[tokio::test]
async fn a_refused_connection_is_retried_until_the_endpoint_is_back() {
    let t = TestServer::start().await;
    let c = &t.client;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (project, key) = project(c, fast(10)).await;
    let ep = c
        .create_endpoint(
            &project,
            json!({"url": format!("http://{addr}/"), "name": "e"}),
        )
        .await;
    let event = send_event(
        c,
        &project,
        &key,
        json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {}}),
    )
    .await;
    let event_id = event["uid"].as_str().unwrap().to_string();
    let path = format!("/api/v1/projects/{project}/eventdeliveries?eventId={event_id}");
    let delivery_id = eventually(10, "a failed attempt", || async {
        let data = c.api(Method::GET, &path, ADMIN_TOKEN, None).await.json();
        let delivery = data["data"]["content"][0].clone();
        (delivery["status"] == "Retry").then(|| delivery["uid"].as_str().unwrap().to_string())
    })
    .await;
    let first = attempts(c, &project, &delivery_id).await;
    assert!(
        first[0]["error"].as_str().unwrap().contains("refused"),
        "{}",
        first[0]
    );
    let receiver = Receiver::on(tokio::net::TcpListener::bind(addr).await.unwrap(), |_| {
        Answer::status(200)
    });
    let deliveries = final_deliveries(c, &project, &event_id, 15).await;
    assert_eq!(deliveries[0]["status"], "Success");
    assert_eq!(receiver.received().len(), 1);
}

/// Broadcast events to a slow and a fast endpoint: the fast one gets all of them while the
/// slow one still holds its first ones.
#[tokio::test]
async fn a_slow_endpoint_does_not_delay_a_fast_one() {
    let t = TestServer::start().await;
    let c = &t.client;
    let slow = Receiver::scripted(|_| Answer::status(200).after(Duration::from_secs(5))).await;
    let fast_receiver = Receiver::start().await;
    let (project, key) = project(c, fast(3)).await;
    c.create_endpoint(
        &project,
        json!({"url": slow.url("/"), "name": "slow", "http_timeout": 30}),
    )
    .await;
    c.create_endpoint(
        &project,
        json!({"url": fast_receiver.url("/"), "name": "fast"}),
    )
    .await;
    let path = format!("/api/v1/projects/{project}/events/broadcast");
    let started = std::time::Instant::now();
    for n in 0..100 {
        let body = json!({"event_type": "t", "data": {"n": n}});
        let reply = c.api(Method::POST, &path, &key, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }
    let got = fast_receiver.wait_for(100, 10).await;
    assert_eq!(got.len(), 100);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the fast endpoint got its 100 in {took:?}, while the slow one answers after 5 s"
    );
    assert!(
        slow.received().len() <= 32,
        "the slow one holds at most its limit"
    );
}

/// A webhook from a provider reaches the subscription of its source with the provider's
/// headers, never with its credentials; the body is byte for byte what the provider sent.
#[tokio::test]
async fn incoming_webhooks_are_forwarded_byte_exact_without_credentials() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": "provider", "type": "http",
                   "verifier": {"type": "api_key", "api_key": {"header_name": "X-Token", "header_value": "tok-secret"}}}),
        )
        .await;
    let other = c
        .create_source(
            &project,
            json!({"name": "other", "type": "http", "verifier": {"type": "noop"}}),
        )
        .await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/in"), "name": "svc"}))
        .await;
    let path = format!("/api/v1/projects/{project}/subscriptions");
    let subscription = json!({"name": "s", "endpoint_id": ep["uid"], "source_id": source["uid"]});
    let reply = c
        .api(Method::POST, &path, ADMIN_TOKEN, Some(subscription))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());

    let body = b"{ \"action\" :\"opened\",  \"n\": 1.000 }";
    let headers = [
        ("X-Token", "tok-secret"),
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-42"),
        ("Authorization", "Bearer upstream"),
        ("Cookie", "session=1"),
        ("Content-Type", "application/json"),
    ];
    let mask = source["mask_id"].as_str().unwrap();
    assert_eq!(c.ingest(mask, &headers, body).await.status, StatusCode::OK);
    let other_mask = other["mask_id"].as_str().unwrap();
    assert_eq!(
        c.ingest(other_mask, &[], b"{}").await.status,
        StatusCode::OK
    );

    let got = receiver.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    let request = &got[0];
    assert_eq!(&request.body[..], body);
    assert_eq!(request.header("x-github-event"), Some("pull_request"));
    assert_eq!(request.header("x-github-delivery"), Some("d-42"));
    for never in ["x-token", "authorization", "cookie"] {
        assert_eq!(request.header(never), None, "{never} is never forwarded");
    }
    // The other source's event has no subscription: stored, and visibly unrouted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
    let events = c.all_events(&project).await;
    let unrouted = events
        .iter()
        .find(|e| e["source_id"] == other["uid"])
        .unwrap();
    let uid = unrouted["uid"].as_str().unwrap();
    let path = format!("/api/v1/projects/{project}/eventdeliveries?eventId={uid}");
    let data = c.api(Method::GET, &path, ADMIN_TOKEN, None).await.json();
    assert_eq!(data["data"]["content"], json!([]));
    let listed = c.events(&project, "unrouted=true").await;
    let listed: Vec<_> = listed["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uid"].clone())
        .collect();
    assert_eq!(listed, [json!(uid)], "only the unrouted event");
    let path = format!("/api/v1/projects/{project}/events/{uid}");
    let data = c.api(Method::GET, &path, ADMIN_TOKEN, None).await.json();
    assert_eq!(data["data"]["deliveries"]["total"], 0);
}

/// During a rotation both live secrets sign; a Standard Webhooks endpoint is signed as the
/// spec says, verified here by the test's own HMAC.
#[tokio::test]
async fn rotation_and_standard_webhooks_signatures_verify_independently() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, key) = project(c, fast(1)).await;
    let convoy = c
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/convoy"), "name": "c", "secret": "old-secret"}),
        )
        .await;
    let path = format!(
        "/api/v1/projects/{project}/endpoints/{}/expire_secret",
        convoy["uid"].as_str().unwrap()
    );
    let reply = c
        .api(
            Method::PUT,
            &path,
            ADMIN_TOKEN,
            Some(json!({"secret": "new-secret", "expiration": 1})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let key_bytes = [7u8; 32];
    let whsec = format!("whsec_{}", BASE64.encode(key_bytes));
    let standard = c
        .create_endpoint(
            &project,
            json!({"url": receiver.url("/standard"), "name": "s", "secret": whsec,
               "signature_format": "standard_webhooks"}),
        )
        .await;
    for ep in [&convoy, &standard] {
        send_event(
            c,
            &project,
            &key,
            json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {"x": 1}}),
        )
        .await;
    }
    let got = receiver.wait_for(2, 10).await;
    let convoy_request = got.iter().find(|r| r.path == "/convoy").unwrap();
    assert!(convoy_signature_valid(convoy_request, "old-secret"));
    assert!(convoy_signature_valid(convoy_request, "new-secret"));
    let signature = convoy_request.header("x-convoy-signature").unwrap();
    assert_eq!(signature.matches("v1=").count(), 2, "{signature}");

    let request = got.iter().find(|r| r.path == "/standard").unwrap();
    let id = request.header("webhook-id").unwrap();
    let timestamp = request.header("webhook-timestamp").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    let header = request.header("webhook-signature").unwrap();
    assert!(
        header.split(' ').any(|s| s == expected),
        "{header} != {expected}"
    );
}

/// A paused endpoint's deliveries wait; once it is active again they arrive.
#[tokio::test]
async fn a_paused_endpoint_receives_once_activated() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, key) = project(c, fast(1)).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    let uid = ep["uid"].as_str().unwrap();
    let base = format!("/api/v1/projects/{project}/endpoints/{uid}");
    let reply = c
        .api(Method::PUT, &format!("{base}/pause"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["data"]["status"], "paused");
    send_event(
        c,
        &project,
        &key,
        json!({"endpoint_id": uid, "event_type": "t", "data": {}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver.received().is_empty());
    let reply = c
        .api(Method::POST, &format!("{base}/activate"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(receiver.wait_for(1, 10).await.len(), 1);
}

/// Events from a Kafka topic are delivered like the others.
#[tokio::test]
async fn kafka_events_are_delivered_like_http_ones() {
    const TOPIC: &str = "deliver";
    let kafka = Kafka::start(TOPIC, 1);
    let mut t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, _) = project(c, fast(1)).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    c.create_source(
        &project,
        kafka_source(&kafka.brokers(), TOPIC, "deliver", 1),
    )
    .await;
    let messages = (0..20).map(|n| {
        let body = json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {"n": n}});
        (0, "k", body.to_string().into_bytes())
    });
    kafka.produce(TOPIC, messages);
    let got = receiver.wait_for(20, 30).await;
    let mut ns: Vec<_> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ns.sort();
    assert_eq!(ns, (0..20).collect::<Vec<_>>());
    t.stop().await;
}

/// Ingest under load, SIGKILL the process mid-delivery several times, restart: every
/// acknowledged event arrives at least once, and the duplicates are at most what was in
/// flight at each kill (the per-endpoint limit, 32).
#[tokio::test]
async fn after_sigkills_every_acknowledged_event_arrives_with_bounded_duplicates() {
    const KILLS: usize = 3;
    const PER_ROUND: usize = 300;
    const PER_ENDPOINT: usize = 32;
    let receiver =
        Receiver::scripted(|_| Answer::status(200).after(Duration::from_millis(300))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let (project, key) = project(&inlet.client, fast(10)).await;
    let ep = inlet
        .client
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    let mut acknowledged = HashSet::new();
    let mut in_flight = 0;
    let of_round = |round: usize| {
        let round = json!(round);
        receiver
            .received()
            .iter()
            .filter(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["round"] == round)
            .count()
    };
    for round in 0..KILLS {
        for n in 0..PER_ROUND {
            let body = json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {"round": round, "n": n}});
            let event = send_event(&inlet.client, &project, &key, body).await;
            acknowledged.insert(event["uid"].as_str().unwrap().to_string());
        }
        // Mid-delivery: some of this round's events arrived, not all.
        let arrived = eventually(30, "a quarter of the round delivered", || async {
            let arrived = of_round(round);
            (arrived >= PER_ROUND / 4).then_some(arrived)
        })
        .await;
        assert!(
            arrived < PER_ROUND,
            "round {round}: the kill comes mid-delivery ({arrived})"
        );
        // What is in flight now may arrive twice: its attempts are made again.
        in_flight += inlet.client.metric("inlet_deliveries_in_flight").await as usize;
        drop(inlet); // SIGKILL
        inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    }
    let received = eventually(120, "every acknowledged event", || async {
        let received = receiver.received();
        let events: HashSet<_> = received.iter().map(|r| r.body.clone()).collect();
        (events.len() == KILLS * PER_ROUND).then_some(received)
    })
    .await;
    let deliveries: HashSet<_> = received
        .iter()
        .map(|r| r.header("x-convoy-idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(
        deliveries.len(),
        acknowledged.len(),
        "one delivery per event"
    );
    let duplicates = received.len() - deliveries.len();
    println!("{duplicates} duplicates after {KILLS} kills, {in_flight} in flight at them");
    // The count read just before a kill may miss an attempt started in between: at most
    // the endpoint's limit of requests is in flight whatever the moment.
    assert!(
        duplicates <= in_flight.max(KILLS * PER_ENDPOINT),
        "{duplicates} duplicates: more than was in flight at {KILLS} kills ({in_flight})"
    );
}

/// Deliveries due and waiting beyond `--max-delivery-lag-secs` make `/readyz` unready with
/// the reason, and the lag is in `/metrics`.
#[tokio::test]
async fn deliveries_falling_behind_make_readyz_unready() {
    let t = TestServer::start_with(|s| {
        s.allow_outbound = inlet_model::outbound::AllowList::parse(["127.0.0.1"]).unwrap();
        s.max_delivery_lag = Duration::from_secs(2);
    })
    .await;
    let c = &t.client;
    let stuck = Receiver::scripted(|_| Answer::status(200).after(Duration::from_secs(30))).await;
    let (project, key) = project(c, fast(1)).await;
    let ep = c
        .create_endpoint(
            &project,
            json!({"url": stuck.url("/"), "name": "stuck", "http_timeout": 60}),
        )
        .await;
    assert_eq!(c.get("/readyz").await.status, StatusCode::OK);
    for n in 0..40 {
        send_event(
            c,
            &project,
            &key,
            json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {"n": n}}),
        )
        .await;
    }
    let reply = eventually(15, "/readyz unready", || async {
        let reply = c.get("/readyz").await;
        (reply.status == StatusCode::SERVICE_UNAVAILABLE).then_some(reply)
    })
    .await;
    assert!(
        reply.text().contains("deliveries fall behind"),
        "{}",
        reply.text()
    );
    assert!(c.metric("inlet_delivery_oldest_overdue_seconds").await >= 2.0);
    assert_eq!(c.metric("inlet_deliveries_in_flight").await, 32.0);
}

/// Deliveries still queued when their endpoint is deleted end `Discarded`, visibly.
#[tokio::test]
async fn deliveries_of_a_deleted_endpoint_are_discarded_visibly() {
    let t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::scripted(|_| Answer::status(503)).await;
    let (project, key) = project(c, fast(50)).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    let event = send_event(
        c,
        &project,
        &key,
        json!({"endpoint_id": ep["uid"], "event_type": "t", "data": {}}),
    )
    .await;
    receiver.wait_for(1, 10).await;
    let path = format!(
        "/api/v1/projects/{project}/endpoints/{}",
        ep["uid"].as_str().unwrap()
    );
    let reply = c.api(Method::DELETE, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let deliveries = final_deliveries(c, &project, event["uid"].as_str().unwrap(), 10).await;
    assert_eq!(deliveries[0]["status"], "Discarded");
    assert_eq!(deliveries[0]["description"], "its endpoint was deleted");
}

/// The event bodies of `n` messages addressed to an endpoint, and what the receiver must
/// have got for them: every `n`, once at least.
fn addressed_bodies(endpoint: &Value, n: u64) -> Vec<String> {
    (0..n)
        .map(|n| {
            json!({"endpoint_id": endpoint["uid"], "event_type": "t", "data": {"n": n}}).to_string()
        })
        .collect()
}

async fn assert_all_arrive(receiver: &Receiver, n: u64) {
    let got = receiver.wait_for(n as usize, 60).await;
    let ns: HashSet<_> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns, (0..n).collect::<HashSet<_>>());
}

/// Messages from an SQS queue are delivered like the others.
#[tokio::test]
async fn sqs_events_are_delivered_like_http_ones() {
    let sqs = inlet_tests::sqs::Sqs::start().await;
    let queue = sqs.create_queue("deliver", 30).await;
    let mut t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, _) = project(c, fast(1)).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    c.create_source(&project, inlet_tests::sqs::sqs_source(&sqs, "deliver", 1))
        .await;
    sqs.send(&queue, addressed_bodies(&ep, 10)).await;
    assert_all_arrive(&receiver, 10).await;
    t.stop().await;
}

/// Messages from a Pub/Sub subscription are delivered like the others.
#[tokio::test]
async fn pubsub_events_are_delivered_like_http_ones() {
    let pubsub = inlet_tests::pubsub::PubSub::start().await;
    pubsub.create_topic("deliver").await;
    pubsub
        .create_subscription("deliver-inlet", "deliver", 30)
        .await;
    let mut t = TestServer::start().await;
    let c = &t.client;
    let receiver = Receiver::start().await;
    let (project, _) = project(c, fast(1)).await;
    let ep = c
        .create_endpoint(&project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    let source = inlet_tests::pubsub::google_source(&pubsub.endpoint, "deliver-inlet", 1);
    c.create_source(&project, source).await;
    let payloads: Vec<Vec<u8>> = addressed_bodies(&ep, 10)
        .into_iter()
        .map(String::into_bytes)
        .collect();
    pubsub.publish("deliver", &payloads).await;
    assert_all_arrive(&receiver, 10).await;
    t.stop().await;
}
