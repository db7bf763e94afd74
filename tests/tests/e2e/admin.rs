use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, TestServer};
use serde_json::json;

#[tokio::test]
async fn projects_lifecycle_and_api_keys_shown_once() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (incoming, no_key) = c.create_project("incoming").await;
    assert!(no_key.is_none(), "incoming projects have no API key");
    let (outgoing, key) = c.create_project("outgoing").await;
    let key = key.expect("an outgoing project's key is shown at creation");
    assert!(key.starts_with("ik_"));

    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{outgoing}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.text().contains(&key), "the key is never shown again");
    assert_eq!(reply.json()["data"]["type"], "outgoing");

    let list = c
        .api(Method::GET, "/api/v1/projects", ADMIN_TOKEN, None)
        .await;
    let content = list.json()["data"]["content"].as_array().unwrap().clone();
    assert_eq!(content.len(), 2);
    assert!(!list.text().contains(&key));

    let reply = c
        .api(
            Method::PUT,
            &format!("/api/v1/projects/{incoming}"),
            ADMIN_TOKEN,
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["data"]["name"], "renamed");
    let reply = c
        .api(
            Method::PUT,
            &format!("/api/v1/projects/{incoming}"),
            ADMIN_TOKEN,
            Some(json!({"type": "outgoing"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // The key is stored only as a hash: its plaintext is nowhere in the data directory.
    let mut files = vec![t.dir.path().to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "{} holds the plaintext key",
                path.display()
            );
        }
    }

    let reply = c
        .api(
            Method::DELETE,
            &format!("/api/v1/projects/{outgoing}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{outgoing}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
    // A deleted project's key no longer authenticates.
    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{outgoing}/events"),
            &key,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authentication_and_scoping() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (a, key_a) = c.create_project("outgoing").await;
    let (b, _) = c.create_project("outgoing").await;
    let key_a = key_a.unwrap();

    let reply = c.get("/api/v1/projects").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "unauthorized");
    let reply = c.api(Method::GET, "/api/v1/projects", "wrong", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A project key manages its own project's sources and events, and nothing else.
    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{a}/sources"),
            &key_a,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = c
        .api(
            Method::GET,
            &format!("/api/v1/projects/{b}/sources"),
            &key_a,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = c.api(Method::GET, "/api/v1/projects", &key_a, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = c
        .api(
            Method::DELETE,
            &format!("/api/v1/projects/{a}"),
            &key_a,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sources_validate_mask_secrets_and_keep_them_on_update() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let sources = format!("/api/v1/projects/{project}/sources");

    let source = c
        .create_source(
            &project,
            json!({
                "name": "stripe", "type": "http",
                "verifier": {"type": "hmac", "hmac": {
                    "header": "X-Sig", "hash": "SHA256", "encoding": "hex",
                    "secret": "top-secret-value", "secrets": ["next-secret-value"]}},
                "forward_headers": ["X-Ignored"]
            }),
        )
        .await;
    let uid = source["uid"].as_str().unwrap();
    let mask = source["mask_id"].as_str().unwrap();
    assert!(mask.len() >= 32, "mask ids are unguessable");
    assert_eq!(source["url"], format!("http://{}/ingest/{mask}", c.addr));
    let text = source.to_string();
    assert!(!text.contains("top-secret-value") && !text.contains("next-secret-value"));
    assert_eq!(source["verifier"]["hmac"]["secret"], "********");

    for path in [sources.clone(), format!("{sources}/{uid}")] {
        let reply = c.api(Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.text().contains("top-secret-value"), "{path}");
    }

    // Echoing the masked verifier back keeps the stored secrets.
    let mut echoed = source["verifier"].clone();
    echoed["hmac"]["header"] = json!("X-Signature");
    let reply = c
        .api(
            Method::PUT,
            &format!("{sources}/{uid}"),
            ADMIN_TOKEN,
            Some(json!({"name": "stripe-2", "verifier": echoed})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["data"]["name"], "stripe-2");
    let body = br#"{"id":1}"#;
    let sig = inlet_tests::hmac_sha256_hex("top-secret-value", body);
    let reply = c
        .send(
            Method::POST,
            &format!("/ingest/{mask}"),
            &[("X-Signature", &sig)],
            &body[..],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let reply = c
        .api(
            Method::DELETE,
            &format!("{sources}/{uid}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = c
        .send(
            Method::POST,
            &format!("/ingest/{mask}"),
            &[("X-Signature", &sig)],
            &body[..],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "source_not_found");
}

#[tokio::test]
async fn invalid_sources_get_400_naming_the_field() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (incoming, _) = c.create_project("incoming").await;
    let (outgoing, _) = c.create_project("outgoing").await;
    let hmac = |hash: &str| json!({"type": "hmac", "hmac": {"header": "X-Sig", "hash": hash, "encoding": "hex", "secret": "s"}});
    let cases = [
        (
            &incoming,
            json!({"type": "http", "verifier": {"type": "noop"}}),
            "name",
        ),
        (&incoming, json!({"name": "x", "type": "http"}), "verifier"),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": hmac("MD5")}),
            "verifier.hmac.hash",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "hmac"}}),
            "verifier.hmac",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "rot13"}}),
            "verifier.type",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "basic_auth", "basic_auth": {"username": "u"}}}),
            "verifier.basic_auth.password",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "api_key", "api_key": {"header_name": "bad header", "header_value": "v"}}}),
            "verifier.api_key.header_name",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "noop"}, "idempotency_keys": ["body.id"]}),
            "idempotency_keys",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "noop"}, "event_type_location": "request.cookie.x"}),
            "event_type_location",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "ftp", "verifier": {"type": "noop"}}),
            "type",
        ),
        (
            &incoming,
            json!({"name": "x", "type": "http", "verifier": {"type": "noop"}, "provider": "nosuch"}),
            "provider",
        ),
        (
            &outgoing,
            json!({"name": "x", "type": "http", "verifier": {"type": "noop"}}),
            "type",
        ),
    ];
    for (project, body, field) in cases {
        let reply = c
            .api(
                Method::POST,
                &format!("/api/v1/projects/{project}/sources"),
                ADMIN_TOKEN,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text()
        );
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.starts_with(field),
            "{body}: {message:?} should name {field}"
        );
    }
    let reply = c
        .send(
            Method::POST,
            &format!("/api/v1/projects/{incoming}/sources"),
            &[
                ("authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("content-type", "application/json"),
            ],
            "{not json",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_json");
    let reply = c
        .send(
            Method::POST,
            &format!("/api/v1/projects/{incoming}/sources"),
            &[
                ("authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("content-type", "text/plain"),
            ],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn health_and_unknown_routes_answer_json() {
    let t = TestServer::start().await;
    let c = &t.client;
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(c.get("/readyz").await.status, StatusCode::OK);
    let reply = c.get("/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
    let reply = c.send(Method::DELETE, "/healthz", &[], "").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.code(), "method_not_allowed");
}

#[tokio::test]
async fn regenerating_a_key_revokes_the_old_one() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, old) = c.create_project("outgoing").await;
    let old = old.unwrap();
    let path = format!("/api/v1/projects/{project}/security/keys/regenerate");
    assert_eq!(
        c.api(Method::PUT, &path, &old, None).await.status,
        StatusCode::FORBIDDEN
    );
    let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let new = reply.json()["data"]["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    let events = format!("/api/v1/projects/{project}/events");
    assert_eq!(
        c.api(Method::GET, &events, &old, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.api(Method::GET, &events, &new, None).await.status,
        StatusCode::OK
    );

    let (incoming, _) = c.create_project("incoming").await;
    let path = format!("/api/v1/projects/{incoming}/security/keys/regenerate");
    let reply = c.api(Method::PUT, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.code(), "wrong_project_type");
}

#[tokio::test]
async fn sources_created_while_their_project_is_deleted_do_not_survive_it() {
    let t = TestServer::start().await;
    let c = &t.client;
    for _ in 0..5 {
        let (project, _) = c.create_project("incoming").await;
        let path = format!("/api/v1/projects/{project}/sources");
        let source = json!({"name": "s", "type": "http", "verifier": {"type": "noop"}});
        let creates = (0..20).map(|_| {
            let (c, path, source) = (c.clone(), path.clone(), source.clone());
            tokio::spawn(async move { c.api(Method::POST, &path, ADMIN_TOKEN, Some(source)).await })
        });
        let creates: Vec<_> = creates.collect();
        let delete = c
            .api(
                Method::DELETE,
                &format!("/api/v1/projects/{project}"),
                ADMIN_TOKEN,
                None,
            )
            .await;
        assert_eq!(delete.status, StatusCode::OK, "{}", delete.text());
        for create in creates {
            let reply = create.await.unwrap();
            match reply.status {
                StatusCode::CREATED => {
                    // Created before the delete, deleted with the project.
                    let mask = reply.json()["data"]["mask_id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    let ingest = c
                        .ingest(&mask, &[("content-type", "application/json")], b"{}")
                        .await;
                    assert_eq!(ingest.status, StatusCode::NOT_FOUND, "{}", ingest.text());
                }
                StatusCode::NOT_FOUND => assert_eq!(reply.code(), "not_found"),
                status => panic!("{status}: {}", reply.text()),
            }
        }
        let listed = c.api(Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_eq!(listed.status, StatusCode::NOT_FOUND, "{}", listed.text());
    }
}
