//! Verification never fails open (review H1, M2, L2): a verifier needs its type, a partial
//! update cannot change how a source verifies without saying so, secrets rotate by
//! identity, and the redaction string never becomes a secret.

use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, Client, TestServer, hmac_sha256_hex};
use serde_json::{Value, json};

fn hmac(secret: &str, secrets: &[&str]) -> Value {
    json!({"type": "hmac", "hmac": {"header": "X-Sig", "hash": "SHA256", "encoding": "hex",
        "secret": secret, "secrets": secrets}})
}

async fn update(c: &Client, project: &str, source: &str, body: Value) -> inlet_tests::Reply {
    let path = format!("/api/v1/projects/{project}/sources/{source}");
    c.api(Method::PUT, &path, ADMIN_TOKEN, Some(body)).await
}

/// The status of a request signed with `secret`.
async fn signed_by(c: &Client, mask: &str, secret: &str) -> StatusCode {
    let body = br#"{"id":1}"#;
    let signature = hmac_sha256_hex(secret, body);
    c.ingest(mask, &[("X-Sig", &signature)], body).await.status
}

#[tokio::test]
async fn a_verifier_without_a_type_is_refused_and_never_becomes_noop() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let sources = format!("/api/v1/projects/{project}/sources");
    let untyped =
        json!({"hmac": {"header": "X-Sig", "hash": "SHA256", "encoding": "hex", "secret": "s"}});
    c.assert_bad_request(
        &sources,
        json!({"name": "x", "type": "http", "verifier": untyped}),
        "invalid_json",
        "verifier: missing field `type`",
    )
    .await;
    c.assert_bad_request(
        &sources,
        json!({"name": "x", "type": "http", "verifier": {"type": "noop", "hmac": untyped["hmac"]}}),
        "invalid_field",
        "verifier.type",
    )
    .await;

    // The partial update that rotated only the secret used to turn the source into noop.
    let source = c
        .create_source(
            &project,
            json!({"name": "x", "type": "http", "verifier": hmac("s", &[])}),
        )
        .await;
    let (uid, mask) = (
        source["uid"].as_str().unwrap(),
        source["mask_id"].as_str().unwrap(),
    );
    let reply = update(c, &project, uid, json!({"verifier": untyped})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(
        c.ingest(mask, &[], b"{}").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(signed_by(c, mask, "s").await, StatusCode::OK);
}

#[tokio::test]
async fn changing_the_provider_needs_the_verifier_too() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": "gh", "type": "http", "provider": "github",
                "verifier": hmac("s", &[])}),
        )
        .await;
    let (uid, mask) = (
        source["uid"].as_str().unwrap(),
        source["mask_id"].as_str().unwrap(),
    );
    // Dropping the provider alone would leave the source verified by whatever verifier
    // happens to be stored (here a complete hmac one, which would compile): refused.
    let reply = update(c, &project, uid, json!({"provider": ""})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("verifier")
    );
    assert_ne!(c.ingest(mask, &[], b"{}").await.status, StatusCode::OK);
    // Saying so explicitly is allowed.
    let reply = update(
        c,
        &project,
        uid,
        json!({"provider": "", "verifier": hmac("s", &[])}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(signed_by(c, mask, "s").await, StatusCode::OK);
}

#[tokio::test]
async fn secrets_rotate_by_identity_and_the_redaction_is_never_a_secret() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": "x", "type": "http", "verifier": hmac("primary", &["b-secret", "c-secret"])}),
        )
        .await;
    let (uid, mask) = (
        source["uid"].as_str().unwrap(),
        source["mask_id"].as_str().unwrap(),
    );
    let shown = source["verifier"]["hmac"]["secrets"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!source.to_string().contains("b-secret"));
    assert!(
        shown
            .iter()
            .all(|s| s.as_str().unwrap().starts_with("********#")),
        "{shown:?}"
    );
    for secret in ["primary", "b-secret", "c-secret"] {
        assert_eq!(signed_by(c, mask, secret).await, StatusCode::OK, "{secret}");
    }

    // Retire b by naming c only: exactly c stays (by position, b would have stayed).
    let mut verifier = source["verifier"].clone();
    verifier["hmac"]["secrets"] = json!([shown[1]]);
    let reply = update(c, &project, uid, json!({"verifier": verifier})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        signed_by(c, mask, "b-secret").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(signed_by(c, mask, "c-secret").await, StatusCode::OK);
    assert_eq!(signed_by(c, mask, "primary").await, StatusCode::OK);

    // A bare redaction, or a form naming nothing stored, is refused: never stored as a secret.
    for secrets in [json!(["********"]), json!(["********#0000000000000000"])] {
        let mut verifier = source["verifier"].clone();
        verifier["hmac"]["secrets"] = secrets.clone();
        let reply = update(c, &project, uid, json!({"verifier": verifier})).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{secrets}: {}",
            reply.text()
        );
        assert_eq!(
            signed_by(c, mask, "********").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Switching to api_key with an echoed value that no stored secret backs.
    let reply = update(
        c,
        &project,
        uid,
        json!({"verifier": {"type": "api_key", "api_key": {"header_name": "X-Key", "header_value": "********"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let reply = c.ingest(mask, &[("X-Key", "********")], b"{}").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_plugin_source_accepts_every_active_secret() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": "gh", "type": "http", "provider": "github",
                "verifier": {"type": "hmac", "hmac": {"secret": "old", "secrets": ["new"]}}}),
        )
        .await;
    let mask = source["mask_id"].as_str().unwrap();
    let body = br#"{"zen":"rotate"}"#;
    for (secret, status) in [
        ("old", StatusCode::OK),
        ("new", StatusCode::OK),
        ("other", StatusCode::UNAUTHORIZED),
    ] {
        let signature = format!("sha256={}", hmac_sha256_hex(secret, body));
        let reply = c
            .ingest(
                mask,
                &[
                    ("X-Hub-Signature-256", &signature),
                    ("X-GitHub-Event", "push"),
                ],
                body,
            )
            .await;
        assert_eq!(reply.status, status, "{secret}: {}", reply.text());
    }
}
