use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac;
use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer, hmac_sha256_hex};
use serde_json::{Value, json};

fn hmac_source(hmac: Value) -> Value {
    json!({"name": "hmac", "type": "http", "verifier": {"type": "hmac", "hmac": hmac}})
}

#[tokio::test]
async fn hmac_simple_hex_accepts_valid_and_rejects_tampered_missing_and_wrong_secret() {
    let t = TestServer::start().await;
    let c = &t.client;
    let secret = "whsec-simple";
    let (project, mask) = c.incoming_source(hmac_source(json!({"header": "X-Convoy-Signature", "hash": "SHA256", "encoding": "hex", "secret": secret})),
    )
    .await;
    let body = br#"{"event":"payment.succeeded","amount":42}"#;
    let sig = hmac_sha256_hex(secret, body);

    let reply = c
        .ingest(
            &mask,
            &[
                ("x-convoy-signature", &sig),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"status": true, "message": "Event received"})
    );

    let reply = c
        .ingest(
            &mask,
            &[("x-convoy-signature", &sig)],
            br#"{"event":"payment.succeeded","amount":43}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "invalid_signature");
    assert!(!reply.text().contains(secret));

    let reply = c.ingest(&mask, &[], body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "missing_signature");

    let wrong = hmac_sha256_hex("not-the-secret", body);
    let reply = c
        .ingest(&mask, &[("x-convoy-signature", &wrong)], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "invalid_signature");

    let reply = c
        .ingest(&mask, &[("x-convoy-signature", "not hex at all")], body)
        .await;
    assert_eq!(reply.code(), "invalid_signature");

    // Only the valid request was stored, with its raw body and JSON data.
    let events = c.events(&project, "").await;
    let content = events["content"].as_array().unwrap();
    assert_eq!(content.len(), 1);
    assert_eq!(content[0]["raw"], std::str::from_utf8(body).unwrap());
    assert_eq!(content[0]["data"]["amount"], 42);
    assert_eq!(
        content[0]["event_type"], mask,
        "Convoy's default event type is the mask id"
    );

    let metrics = c.get("/metrics").await.text();
    assert!(
        metrics.contains("reason=\"invalid_signature\""),
        "{metrics}"
    );
    assert!(metrics.contains("inlet_events_accepted_total"), "{metrics}");
}

#[tokio::test]
async fn hmac_sha512_base64_with_rotated_secrets() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (_, mask) = c
        .incoming_source(hmac_source(
            json!({"header": "X-Sig", "hash": "SHA512", "encoding": "base64",
                           "secret": "old-secret", "secrets": ["new-secret"]}),
        ))
        .await;
    let body = b"plain text body";
    for secret in ["old-secret", "new-secret"] {
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let sig = BASE64.encode(mac.finalize().into_bytes());
        let reply = c.ingest(&mask, &[("x-sig", &sig)], body).await;
        assert_eq!(reply.status, StatusCode::OK, "{secret}: {}", reply.text());
    }
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(b"retired-secret").unwrap();
    mac.update(body);
    let sig = BASE64.encode(mac.finalize().into_bytes());
    assert_eq!(
        c.ingest(&mask, &[("x-sig", &sig)], body).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// The advanced scheme signs `timestamp,body`, and a timestamp further than
/// `tolerance_seconds` from now, either way, is refused. This is a tolerance on the clock,
/// not replay detection: Inlet keeps no record of signatures it has seen, so the same signed
/// request sent again within the tolerance is accepted again (a provider's idempotency key,
/// where there is one, is what marks it a duplicate).
#[tokio::test]
async fn hmac_advanced_signatures_and_timestamp_tolerance() {
    let t = TestServer::start().await;
    let c = &t.client;
    let secret = "adv-secret";
    let (_, mask) = c.incoming_source(hmac_source(json!({"header": "X-Convoy-Signature", "hash": "SHA256", "encoding": "hex",
                           "secret": secret, "signature_format": "advanced", "tolerance_seconds": 120})),
    )
    .await;
    let body = br#"{"a":1}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = |t: u64| {
        let mut content = format!("{t},").into_bytes();
        content.extend_from_slice(body);
        format!("t={t},v1=00ff,v1={}", hmac_sha256_hex(secret, &content))
    };

    let reply = c
        .ingest(&mask, &[("x-convoy-signature", &signed(now))], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let reply = c
        .ingest(&mask, &[("x-convoy-signature", &signed(now - 600))], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "timestamp_expired");
    let reply = c
        .ingest(&mask, &[("x-convoy-signature", &signed(now + 600))], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "from the future");
    assert_eq!(reply.code(), "timestamp_expired");
    // Within the tolerance, if not quite now.
    let reply = c
        .ingest(&mask, &[("x-convoy-signature", &signed(now - 60))], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    // A signature over the body alone (the simple scheme) does not pass as advanced.
    let simple = format!("t={now},v1={}", hmac_sha256_hex(secret, body));
    let reply = c
        .ingest(&mask, &[("x-convoy-signature", &simple)], body)
        .await;
    assert_eq!(reply.code(), "invalid_signature");

    let reply = c
        .ingest(&mask, &[("x-convoy-signature", "v1=abcd")], body)
        .await;
    assert_eq!(reply.code(), "missing_signature");
}

#[tokio::test]
async fn basic_auth_api_key_and_noop_verifiers() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, basic) = c.incoming_source(json!({"name": "basic", "type": "http",
               "verifier": {"type": "basic_auth", "basic_auth": {"username": "hook", "password": "p:a:ss"}}}),
    )
    .await;
    let good = format!("Basic {}", BASE64.encode("hook:p:a:ss"));
    let reply = c.ingest(&basic, &[("authorization", &good)], b"{}").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let bad = format!("Basic {}", BASE64.encode("hook:p:a"));
    let reply = c.ingest(&basic, &[("authorization", &bad)], b"{}").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "invalid_credentials");
    let reply = c.ingest(&basic, &[], b"{}").await;
    assert_eq!(reply.code(), "missing_credentials");

    // The stored request headers never hold the credential.
    let events = c.events(&project, "").await;
    let stored = &events["content"][0]["headers"];
    assert_eq!(stored["authorization"], json!(["********"]));
    assert!(!events.to_string().contains(&good));

    let (_, keyed) = c.incoming_source(json!({"name": "mono", "type": "http",
               "verifier": {"type": "api_key", "api_key": {"header_name": "X-Mono-Key", "header_value": "mono-123"}}}),
    )
    .await;
    assert_eq!(
        c.ingest(&keyed, &[("x-mono-key", "mono-123")], b"{}")
            .await
            .status,
        StatusCode::OK
    );
    let reply = c.ingest(&keyed, &[("x-mono-key", "mono-124")], b"{}").await;
    assert_eq!(reply.code(), "invalid_credentials");

    let (_, open) = c
        .incoming_source(json!({"name": "open", "type": "http", "verifier": {"type": "noop"}}))
        .await;
    assert_eq!(
        c.ingest(&open, &[], b"anything").await.status,
        StatusCode::OK
    );
    let reply = c.get(&format!("/ingest/{open}")).await;
    assert_eq!(
        reply.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "GET is for plugin handshakes"
    );
    let reply = c
        .ingest("0123456789abcdef0123456789abcdef", &[], b"{}")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn request_details_event_type_custom_response_and_bodies() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(
            json!({"name": "forms", "type": "http", "verifier": {"type": "noop"},
               "event_type_location": "request.body.type",
               "custom_response": {"body": "<ok/>", "content_type": "application/xml"}}),
        )
        .await;
    let reply = c
        .send(
            Method::POST,
            &format!("/ingest/{mask}?shop=acme&x=1"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-trace", "t-1"),
            ],
            "type=order.paid&item=a&item=b",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "<ok/>");
    assert_eq!(reply.headers["content-type"], "application/xml");

    let boundary = "XyZ";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nfile.uploaded\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let reply = c
        .ingest(&mask, &[("content-type", &ct)], multipart.as_bytes())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let reply = c
        .ingest(
            &mask,
            &[("content-type", "application/octet-stream")],
            &[0xde, 0xad, 0xbe, 0xef],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let events = c.events(&project, "").await;
    let content = events["content"].as_array().unwrap();
    assert_eq!(content.len(), 3);
    let (binary, multi, form) = (&content[0], &content[1], &content[2]);

    assert_eq!(form["event_type"], "order.paid");
    assert_eq!(
        form["data"],
        json!({"type": "order.paid", "item": ["a", "b"]})
    );
    assert_eq!(form["raw"], "type=order.paid&item=a&item=b");
    assert_eq!(form["url_query_params"], "shop=acme&x=1");
    assert_eq!(form["url_path"], format!("/ingest/{mask}"));
    assert_eq!(form["headers"]["x-trace"], json!(["t-1"]));
    assert_eq!(form["source_id"].as_str().unwrap().len(), 26);

    assert_eq!(multi["event_type"], "file.uploaded");
    assert_eq!(multi["data"]["doc"]["filename"], "a.txt");
    assert_eq!(multi["data"]["doc"]["content"], "hello");

    assert_eq!(
        binary["event_type"], mask,
        "no type in the body: the default"
    );
    assert_eq!(binary["data"], Value::Null);
    assert_eq!(binary["raw_encoding"], "base64");
    assert_eq!(binary["raw"], BASE64.encode([0xde, 0xad, 0xbe, 0xef]));
}

#[tokio::test]
async fn idempotency_keys_flag_repeats_even_when_concurrent() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(
            json!({"name": "idem", "type": "http", "verifier": {"type": "noop"},
               "idempotency_keys": ["request.header.X-Delivery", "request.body.id"]}),
        )
        .await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        let mask = mask.clone();
        tasks.push(tokio::spawn(async move {
            c.ingest(&mask, &[("x-delivery", "d-1")], br#"{"id":"evt_1"}"#)
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    c.ingest(&mask, &[("x-delivery", "d-2")], br#"{"id":"evt_1"}"#)
        .await;

    let events = c.events(&project, "perPage=100").await;
    let content = events["content"].as_array().unwrap();
    assert_eq!(content.len(), 17);
    let firsts: Vec<_> = content
        .iter()
        .filter(|e| e["is_duplicate_event"] == false)
        .map(|e| e["idempotency_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(firsts.len(), 2, "exactly one first per key: {firsts:?}");
    assert!(firsts.contains(&r#"["d-1","evt_1"]"#.to_string()));
    assert!(firsts.contains(&r#"["d-2","evt_1"]"#.to_string()));

    // The same value at different locations is a different key (review L4: both were
    // `x`), and none found is no key, never a duplicate.
    c.ingest(&mask, &[("x-delivery", "x")], b"{}").await;
    c.ingest(&mask, &[], br#"{"id":"x"}"#).await;
    c.ingest(&mask, &[], b"{}").await;
    c.ingest(&mask, &[], b"{}").await;
    let events = c.events(&project, "perPage=4").await;
    let keys: Vec<_> = events["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["idempotency_key"].as_str().unwrap(),
                e["is_duplicate_event"] == true,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("", false),
            ("", false),
            (r#"[null,"x"]"#, false),
            (r#"["x",null]"#, false)
        ]
    );
}

/// An event type or idempotency key read from a request has at most 1 KiB, as a plugin's
/// (review L4).
#[tokio::test]
async fn an_event_type_or_idempotency_key_over_1_kib_is_refused() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, mask) = c
        .incoming_source(
            json!({"name": "long", "type": "http", "verifier": {"type": "noop"},
               "event_type_location": "request.body.type",
               "idempotency_keys": ["request.header.X-Delivery"]}),
        )
        .await;
    let at_limit = "t".repeat(1024);
    let over = "t".repeat(1025);
    let body = |event_type: &str| json!({"type": event_type}).to_string().into_bytes();
    let reply = c
        .ingest(&mask, &[("x-delivery", &at_limit)], &body(&at_limit))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    for (headers, body) in [
        (vec![], body(&over)),
        (vec![("x-delivery", over.as_str())], body("t")),
    ] {
        let reply = c.ingest(&mask, &headers, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(reply.code(), "invalid_field");
    }
    let events = c.events(&project, "").await;
    assert_eq!(events["content"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn disabled_sources_refuse_events() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": "off", "type": "http", "verifier": {"type": "noop"}}),
        )
        .await;
    let reply = c
        .api(
            Method::PUT,
            &format!(
                "/api/v1/projects/{project}/sources/{}",
                source["uid"].as_str().unwrap()
            ),
            ADMIN_TOKEN,
            Some(json!({"is_disabled": true})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = c
        .ingest(source["mask_id"].as_str().unwrap(), &[], b"{}")
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "source_disabled");
}
