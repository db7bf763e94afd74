use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const LIMIT: u64 = 64 * 1024;

#[tokio::test]
async fn oversized_bodies_get_413_with_or_without_content_length() {
    let t = TestServer::start_with(|s| s.max_body_bytes = LIMIT).await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(json!({"name": "big", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    let mask = mask.as_str();
    let path = format!("/ingest/{mask}");

    let at_limit = vec![b'a'; LIMIT as usize];
    assert_eq!(
        c.send(Method::POST, &path, &[], at_limit).await.status,
        StatusCode::OK
    );
    let over = vec![b'a'; LIMIT as usize + 1];
    let reply = c.send(Method::POST, &path, &[], over).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code(), "payload_too_large");

    // Chunked, no Content-Length: refused once the limit is crossed, while the client is
    // still sending (it never gets to send the rest).
    let mut tcp = tokio::net::TcpStream::connect(c.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: inlet\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'b'; 16 * 1024];
    for _ in 0..5 {
        tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        tcp.write_all(&chunk).await.unwrap();
        tcp.write_all(b"\r\n").await.unwrap();
    }
    let response = inlet_tests::read_response(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"));

    // A source may lower the limit.
    let small = c
        .create_source(
            &project,
            json!({"name": "small", "type": "http", "verifier": {"type": "noop"}, "max_payload_bytes": 10}),
        )
        .await;
    let small_path = format!("/ingest/{}", small["mask_id"].as_str().unwrap());
    assert_eq!(
        c.send(Method::POST, &small_path, &[], "0123456789")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        c.send(Method::POST, &small_path, &[], "0123456789a")
            .await
            .status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    let events = c.events(&project, "perPage=10").await;
    assert_eq!(
        events["content"].as_array().unwrap().len(),
        2,
        "only accepted bodies are stored"
    );
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_get_429() {
    let t = TestServer::start_with(|s| s.max_in_flight = 1).await;
    let c = &t.client;
    let (_, mask) = c
        .incoming_source(json!({"name": "slow", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    // Hold the only slot with a request whose body never finishes.
    let mut tcp = tokio::net::TcpStream::connect(c.addr).await.unwrap();
    let head =
        format!("POST /ingest/{mask} HTTP/1.1\r\nHost: inlet\r\nContent-Length: 100\r\n\r\n{{");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        status = c
            .api(Method::GET, "/api/v1/projects", ADMIN_TOKEN, None)
            .await
            .status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let reply = c
        .api(Method::GET, "/api/v1/projects", ADMIN_TOKEN, None)
        .await;
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(reply.code(), "too_many_requests");
    // Health and metrics stay reachable for the operator under load.
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(c.get("/metrics").await.status, StatusCode::OK);
    drop(tcp);
    let mut status = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..50 {
        status = c
            .api(Method::GET, "/api/v1/projects", ADMIN_TOKEN, None)
            .await
            .status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "the slot is freed when the client goes away"
    );
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_frees_its_slot() {
    let t = TestServer::start_with(|s| {
        s.body_timeout = std::time::Duration::from_millis(500);
        s.max_in_flight = 1;
    })
    .await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(json!({"name": "s", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    let mut tcp = tokio::net::TcpStream::connect(c.addr).await.unwrap();
    let head = format!("POST /ingest/{mask} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let response = inlet_tests::read_response(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("request_timeout"), "{response}");
    // The only slot is free again.
    assert_eq!(c.ingest(&mask, &[], b"{}").await.status, StatusCode::OK);
    assert_eq!(
        c.events(&project, "").await["content"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// A client that never finishes its request head (slowloris) is cut off after the header
/// read timeout instead of holding its connection forever (review M4).
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    use tokio::io::AsyncReadExt;
    let t = TestServer::start().await;
    let mut tcp = tokio::net::TcpStream::connect(t.client.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tcp.read_to_end(&mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after 30 s: no header read timeout"
    );
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(8),
        "closed too early: {waited:?}"
    );
}

/// Bodies held at once are bounded in bytes (review L3): with room for 1 MiB, a slow
/// upload of 600 KiB holds its room, others get 503 with `Retry-After` after a bounded
/// wait, before they are read, and once it is done a new one fits.
#[tokio::test]
async fn bodies_beyond_the_in_flight_byte_budget_get_503() {
    const SIZE: usize = 600 * 1024;
    let t = TestServer::start_with(|s| {
        s.max_body_bytes = 1 << 20;
        s.max_inflight_body_bytes = 1 << 20;
    })
    .await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(json!({"name": "s", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    let head = format!(
        "POST /ingest/{mask} HTTP/1.1\r\nHost: x\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n"
    );
    let start_upload = || async {
        let mut tcp = tokio::net::TcpStream::connect(c.addr).await.unwrap();
        tcp.write_all(head.as_bytes()).await.unwrap();
        tcp.write_all(&[b'a'; 1024]).await.unwrap();
        tcp
    };
    let mut accepted = start_upload().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let refused = || async {
        let mut tcp = start_upload().await;
        inlet_tests::read_response(&mut tcp).await
    };
    let (a, b) = tokio::join!(refused(), refused());
    for response in [a, b] {
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");
        assert!(response.contains("too_many_bytes_in_flight"), "{response}");
        assert!(
            response.to_lowercase().contains("retry-after: 1"),
            "{response}"
        );
    }
    accepted.write_all(&vec![b'a'; SIZE - 1024]).await.unwrap();
    let response = inlet_tests::read_response(&mut accepted).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let reply = c.ingest(&mask, &[], &vec![b'b'; SIZE]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        c.events(&project, "").await["content"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
