use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer};
use serde_json::json;

#[tokio::test]
async fn rest_api_source_stores_convoy_events() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let key = key.unwrap();
    let path = format!("/api/v1/projects/{project}/events");
    let endpoint = c
        .create_endpoint(&project, json!({"url": "http://127.0.0.1:9/", "name": "e"}))
        .await;
    let endpoint = endpoint["uid"].as_str().unwrap();
    let body = json!({
        "endpoint_id": endpoint,
        "event_type": "compliance.completed",
        "custom_headers": {"X-Event-Key": "Event XYZ"},
        "data": {"user": 7},
        "idempotency_key": "idem-1"
    });

    let reply = c.api(Method::POST, &path, &key, Some(body.clone())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let event = reply.json()["data"].clone();
    assert_eq!(event["event_type"], "compliance.completed");
    assert_eq!(event["endpoint_id"], endpoint);
    assert_eq!(event["project_id"], project.as_str());
    assert_eq!(event["data"], json!({"user": 7}));
    assert_eq!(event["headers"]["X-Event-Key"], json!(["Event XYZ"]));
    assert_eq!(event["is_duplicate_event"], false);

    let reply = c.api(Method::POST, &path, &key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["data"]["is_duplicate_event"], true);

    let uid = event["uid"].as_str().unwrap();
    let reply = c
        .api(Method::GET, &format!("{path}/{uid}"), &key, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["data"]["uid"], uid);
    let reply = c
        .api(
            Method::GET,
            &format!("{path}/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            &key,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // By owner instead of endpoint.
    let reply = c
        .api(
            Method::POST,
            &path,
            &key,
            Some(json!({"owner_id": "o-1", "event_type": "x", "data": []})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["data"]["owner_id"], "o-1");
}

#[tokio::test]
async fn rest_api_source_refuses_bad_requests_clearly() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let key = key.unwrap();
    let path = format!("/api/v1/projects/{project}/events");
    let valid = json!({"endpoint_id": "e", "event_type": "t", "data": {}});

    let reply = c
        .api(Method::POST, &path, "ik_wrong", Some(valid.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    for (body, field) in [
        (json!({"event_type": "t", "data": {}}), "endpoint_id"),
        (json!({"endpoint_id": "e", "data": {}}), "event_type"),
        (json!({"endpoint_id": "e", "event_type": "t"}), "data"),
        (
            json!({"endpoint_id": "e", "event_type": "t", "data": {}, "custom_headers": {"a": 1}}),
            "custom_headers.a",
        ),
        // At most 1 KiB, as on every path (review L4).
        (
            json!({"endpoint_id": "e", "event_type": "t".repeat(1025), "data": {}}),
            "event_type",
        ),
        (
            json!({"endpoint_id": "e", "event_type": "t", "data": {}, "idempotency_key": "k".repeat(1025)}),
            "idempotency_key",
        ),
    ] {
        let reply = c.api(Method::POST, &path, &key, Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.starts_with(field),
            "{message:?} should name {field}"
        );
    }

    let auth = format!("Bearer {key}");
    let reply = c
        .send(
            Method::POST,
            &path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            "{\"data\":",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_json");
    let reply = c
        .send(
            Method::POST,
            &path,
            &[("authorization", &auth), ("content-type", "text/xml")],
            "<a/>",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (incoming, _) = c.create_project("incoming").await;
    let reply = c
        .api(
            Method::POST,
            &format!("/api/v1/projects/{incoming}/events"),
            ADMIN_TOKEN,
            Some(valid),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "wrong_project_type");

    let metrics = c.get("/metrics").await.text();
    assert!(
        metrics.contains(&format!(
            "source=\"rest_api:{project}\",reason=\"invalid_field\""
        )),
        "{metrics}"
    );
}
