//! Hostile and malformed input: every answer is a 4xx with a JSON error code, never a 5xx,
//! a hang, or a dropped connection.

use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer};
use serde_json::json;
use tokio::io::AsyncWriteExt;

type Headers<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (incoming, _) = c.create_project("incoming").await;
    let (outgoing, key) = c.create_project("outgoing").await;
    let key = key.unwrap();
    let source = c
        .create_source(
            &incoming,
            json!({"name": "s", "type": "http", "verifier": {"type": "noop"},
            "idempotency_keys": ["request.body.a.b.c"], "event_type_location": "request.body.t"}),
        )
        .await;
    let mask = source["mask_id"].as_str().unwrap();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let key_auth = format!("Bearer {key}");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let json_ct = ("content-type", "application/json");

    let cases: Vec<(Method, String, Headers, Vec<u8>)> = vec![
        (
            Method::GET,
            "/api/v1/projects/%ZZ".into(),
            vec![("authorization", &auth)],
            vec![],
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{incoming}/events/%ff%fe"),
            vec![("authorization", &auth)],
            vec![],
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{incoming}/events?perPage=abc"),
            vec![("authorization", &auth)],
            vec![],
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{incoming}/events?next_page_cursor=zzz"),
            vec![("authorization", &auth)],
            vec![],
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", &auth), json_ct],
            deep.clone().into_bytes(),
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", &auth), json_ct],
            vec![0xff, 0xfe, 0x00],
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", &auth), json_ct],
            b"[]".to_vec(),
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", &auth), json_ct],
            br#"{"name": 7, "type": "incoming"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", &auth), json_ct],
            br#"{"name": "x", "type": "sideways"}"#.to_vec(),
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", "Bearer")],
            vec![],
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            vec![("authorization", "Basic abc")],
            vec![],
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{outgoing}/events"),
            vec![("authorization", &key_auth), json_ct],
            deep.clone().into_bytes(),
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{outgoing}/events"),
            vec![("authorization", &key_auth), json_ct],
            br#"{"endpoint_id": "e", "event_type": "t", "data": }"#.to_vec(),
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{outgoing}/events"),
            vec![("authorization", &key_auth), json_ct],
            br#"{"endpoint_id": ["e"], "event_type": "t", "data": 1}"#.to_vec(),
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{incoming}/sources"),
            vec![("authorization", &auth), json_ct],
            br#"{"name": "x", "type": "http", "verifier": {"type": "hmac", "hmac": "nope"}}"#
                .to_vec(),
        ),
        (
            Method::PUT,
            format!("/api/v1/projects/{incoming}/sources/nope"),
            vec![("authorization", &auth), json_ct],
            b"{}".to_vec(),
        ),
        (
            Method::POST,
            format!("/ingest/{mask}"),
            vec![("content-type", "multipart/form-data")],
            b"--x\r\n".to_vec(),
        ),
        (
            Method::POST,
            format!("/ingest/{mask}"),
            vec![("content-type", "multipart/form-data; boundary=x")],
            b"--x\r\nContent-Disposition: form-data\r\n\r\nno end".to_vec(),
        ),
        (Method::PATCH, format!("/ingest/{mask}"), vec![], vec![]),
        (Method::POST, "/ingest/".into(), vec![], vec![]),
    ];
    for (method, path, headers, body) in cases {
        let reply = c.send(method.clone(), &path, &headers, body).await;
        assert!(
            reply.status.is_client_error(),
            "{method} {path}: {} {}",
            reply.status,
            reply.text()
        );
        let error = reply.json();
        assert_eq!(error["status"], false, "{method} {path}: {error}");
        assert!(
            !error["code"].as_str().unwrap_or("").is_empty(),
            "{method} {path}: {error}"
        );
    }

    // Bodies that are accepted, however odd: deep JSON, non-UTF-8 bytes, a huge header.
    let big_header = "v".repeat(8 * 1024);
    for (headers, body) in [
        (vec![json_ct], deep.into_bytes()),
        (
            vec![("content-type", "text/plain")],
            vec![0xc3, 0x28, 0xa0, 0xa1],
        ),
        (
            vec![("x-big", big_header.as_str())],
            b"{\"t\": {\"nested\": true}}".to_vec(),
        ),
    ] {
        let reply = c.ingest(mask, &headers, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_stalls_or_disconnects_costs_nothing_lasting() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(json!({"name": "s", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    let mask = mask.as_str();
    // Half a body, then gone.
    for _ in 0..20 {
        let mut tcp = tokio::net::TcpStream::connect(c.addr).await.unwrap();
        let head = format!(
            "POST /ingest/{mask} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{\"a\":"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        drop(tcp);
    }
    // Garbage instead of HTTP.
    let mut tcp = tokio::net::TcpStream::connect(c.addr).await.unwrap();
    tcp.write_all(b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n")
        .await
        .unwrap();
    let response = inlet_tests::read_response(&mut tcp).await;
    assert!(
        response.starts_with("HTTP/1.1 400") || response.is_empty(),
        "{response}"
    );

    assert_eq!(c.ingest(mask, &[], b"{}").await.status, StatusCode::OK);
    let events = c.events(&project, "").await;
    assert_eq!(
        events["content"].as_array().unwrap().len(),
        1,
        "no partial body was stored"
    );
}
