use std::collections::HashSet;

use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer};
use serde_json::{Value, json};

async fn push(c: &inlet_tests::Client, project: &str, key: &str, event_type: &str, data: Value) {
    let reply = c
        .api(
            Method::POST,
            &format!("/api/v1/projects/{project}/events"),
            key,
            Some(json!({"owner_id": "o", "event_type": event_type, "data": data})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

/// Every page of a project's listing with `query`, following the cursor to the end.
async fn pages(c: &inlet_tests::Client, project: &str, query: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let data = c
            .events(project, &format!("{query}&next_page_cursor={cursor}"))
            .await;
        let more = data["pagination"]["has_next_page"] == true;
        cursor = data["pagination"]["next_page_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        pages.push(data);
        if !more {
            return pages;
        }
    }
}

/// The `data.n` of every event of the pages, in order.
fn seen(pages: &[Value]) -> Vec<u64> {
    pages
        .iter()
        .flat_map(|p| p["content"].as_array().unwrap())
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn listing_pages_newest_first_without_gaps_or_overlap() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let key = key.unwrap();
    for n in 0..45 {
        push(
            c,
            &project,
            &key,
            if n % 3 == 0 { "fizz" } else { "plain" },
            json!({"n": n}),
        )
        .await;
    }

    let pages = pages(c, &project, "perPage=20").await;
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p["pagination"]["per_page"] == 20));
    assert_eq!(
        seen(&pages),
        (0..45).rev().collect::<Vec<_>>(),
        "newest first, each once"
    );

    let data = c.events(&project, "eventType=fizz&perPage=100").await;
    let fizz: Vec<_> = data["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(
        fizz,
        (0..45).filter(|n| n % 3 == 0).rev().collect::<Vec<_>>()
    );

    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{project}/events?perPage=0"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_query");
    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{project}/events?startDate=yesterday"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.code(), "invalid_query");
}

#[tokio::test]
async fn listing_filters_by_source_and_time_range() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let mut masks = Vec::new();
    let mut uids = Vec::new();
    for name in ["a", "b"] {
        let s = c
            .create_source(
                &project,
                json!({"name": name, "type": "http", "verifier": {"type": "noop"}}),
            )
            .await;
        masks.push(s["mask_id"].as_str().unwrap().to_string());
        uids.push(s["uid"].as_str().unwrap().to_string());
    }
    for i in 0..6 {
        let reply = c
            .send(
                Method::POST,
                &format!("/ingest/{}", masks[i % 2]),
                &[],
                format!("{{\"i\":{i}}}"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let data = c.events(&project, &format!("sourceId={}", uids[1])).await;
    let from_b: Vec<_> = data["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["i"].as_u64().unwrap())
        .collect();
    assert_eq!(from_b, vec![5, 3, 1]);

    let all = c.events(&project, "").await;
    let content: Vec<Value> = all["content"].as_array().unwrap().clone();
    let created: Vec<&str> = content
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    // A range from the oldest event's time to the newest's holds all six.
    let query = format!("startDate={}&endDate={}", created[5], created[0]).replace('+', "%2B");
    let ranged = c.events(&project, &query).await;
    assert_eq!(ranged["content"].as_array().unwrap().len(), 6);
    let query = "startDate=2000-01-01T00:00:00Z&endDate=2000-01-02T00:00:00Z";
    assert!(
        c.events(&project, query).await["content"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A range that ends before it starts names the field (review §4).
    let query = "startDate=2000-01-02T00:00:00Z&endDate=2000-01-01T00:00:00Z";
    let reply = c.list_events(&project, query).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_query");
    assert!(reply.text().contains("startDate"), "{}", reply.text());
    let ids: HashSet<_> = content.iter().map(|e| e["uid"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6);

    // A source of another project does not leak into this one.
    let (other, _) = c.create_project("incoming").await;
    let data = c.events(&other, &format!("sourceId={}", uids[0])).await;
    assert!(data["content"].as_array().unwrap().is_empty());
}

/// A page holds at most 4 MiB of stored events (review M7): 12 events of 1 MiB with
/// `perPage=100` come in several pages of at most 4, and the cursor walks all of them once,
/// newest first.
#[tokio::test]
async fn large_events_are_paged_by_bytes_and_the_cursor_walks_them_all() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let key = key.unwrap();
    let pad = "x".repeat(1 << 20);
    for n in 0..12 {
        push(c, &project, &key, "big", json!({"n": n, "pad": pad})).await;
    }
    let pages = pages(c, &project, "perPage=100").await;
    for page in &pages {
        let items = page["content"].as_array().unwrap().len();
        assert!((1..=4).contains(&items), "a page of {items} events");
    }
    assert!(pages.len() >= 3, "{} pages", pages.len());
    assert_eq!(
        seen(&pages),
        (0..12).rev().collect::<Vec<_>>(),
        "newest first, each once"
    );
}
