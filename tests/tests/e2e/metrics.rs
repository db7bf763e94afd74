//! `/metrics` cannot be forged or grown by strangers (review H4, L14): label values come
//! only from bounded sets, and a deleted source's series go away.

use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer};
use serde_json::json;

#[tokio::test]
async fn label_values_cannot_be_injected_or_multiplied() {
    let t = TestServer::start().await;
    let c = &t.client;
    // A path segment that would close the label, add a sample and end the exposition.
    let forged = "/api/v1/projects/x%22%7D%201%0Afake_metric%201%0A%23%20EOF%0A/events";
    let reply = c.send(Method::POST, forged, &[], "{}").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    for n in 0..50 {
        let path = format!("/api/v1/projects/p{n}/events");
        c.send(Method::POST, &path, &[], "{}").await;
        let method = Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        c.send(method, "/healthz", &[], "").await;
    }
    let text = c.get("/metrics").await.text();
    assert!(!text.contains("fake_metric"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(!text.contains("p17") && !text.contains("BREW"), "{text}");
    assert!(
        text.contains(r#"inlet_events_rejected_total{source="other",reason="unauthorized"} 51"#),
        "{text}"
    );
    assert!(text.contains(r#"method="other""#), "{text}");
}

#[tokio::test]
async fn a_deleted_source_leaves_no_series() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": "n", "type": "http", "verifier": {"type": "noop"}}),
        )
        .await;
    let (uid, mask) = (
        source["uid"].as_str().unwrap(),
        source["mask_id"].as_str().unwrap(),
    );
    assert_eq!(c.ingest(mask, &[], b"{}").await.status, StatusCode::OK);
    let big = vec![b'x'; 11 << 20];
    c.ingest(mask, &[], &big).await;
    let text = c.get("/metrics").await.text();
    assert!(text.contains(&format!(r#"source="{uid}""#)), "{text}");
    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let reply = c.api(Method::DELETE, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = c.get("/metrics").await.text();
    assert!(!text.contains(uid), "{text}");
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let t =
        TestServer::start_with(|s| s.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let public = &t.client;
    public.create_project("incoming").await;
    assert_eq!(public.get("/metrics").await.status, StatusCode::NOT_FOUND);
    assert_eq!(public.get("/readyz").await.status, StatusCode::OK);
    let private = inlet_tests::Client::new(t.server.as_ref().unwrap().metrics_addr.unwrap());
    let scraped = private.get("/metrics").await;
    assert_eq!(scraped.status, StatusCode::OK);
    // The project's creation, served by the public listener, is counted.
    let text = scraped.text();
    assert!(
        text.contains(r#"route="/api/v1/projects",method="POST",status="201""#),
        "{text}"
    );

    assert_eq!(private.get("/healthz").await.status, StatusCode::OK);
    // Nothing but the operations routes on the private listener.
    let api = private
        .api(Method::GET, "/api/v1/projects", ADMIN_TOKEN, None)
        .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
}
