//! Endpoints over the admin API, in Convoy's shapes: CRUD, secrets generated, rotated and
//! never shown, URLs checked against the outbound policy, pause and activate, and the
//! subscription an outgoing project's endpoint gets.

use hyper::{Method, StatusCode};
use inlet_model::outbound::AllowList;
use inlet_tests::{ADMIN_TOKEN, Client, TestServer};
use serde_json::{Value, json};

const SECRET: &str = "plaintext-signing-secret-4417";
const AUTH_VALUE: &str = "Bearer plaintext-auth-value-9921";

/// The loopback URL every test server allows (`--allow-outbound 127.0.0.1`).
const URL: &str = "http://127.0.0.1:9/hooks";

fn endpoints(project: &str) -> String {
    format!("/api/v1/projects/{project}/endpoints")
}

/// Sends as admin, asserting that no answer ever carries a plaintext secret.
async fn call(c: &Client, method: Method, path: &str, body: Option<Value>) -> inlet_tests::Reply {
    let reply = c.api(method, path, ADMIN_TOKEN, body).await;
    let text = reply.text();
    for secret in [SECRET, AUTH_VALUE, "rotated-secret-5531"] {
        assert!(!text.contains(secret), "{path} shows a secret: {text}");
    }
    reply
}

#[tokio::test]
async fn endpoints_are_managed_in_convoys_shapes() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let body = json!({
        "url": URL, "name": "Billing Hook", "secret": SECRET, "owner_id": "owner-1",
        "description": "invoices", "http_timeout": "15s", "rate_limit": 100,
        "rate_limit_duration": 60, "support_email": "ops@example.com",
        "authentication": {"type": "api_key",
                           "api_key": {"header_name": "Authorization", "header_value": AUTH_VALUE}}
    });
    let reply = call(c, Method::POST, &endpoints(&project), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["message"], "Endpoint created successfully");
    let created = reply.json()["data"].clone();
    let uid = created["uid"].as_str().unwrap().to_string();
    assert_eq!(created["project_id"], project.as_str());
    assert_eq!(created["url"], URL);
    assert_eq!(created["name"], "Billing Hook");
    assert_eq!(created["owner_id"], "owner-1");
    assert_eq!(created["description"], "invoices");
    assert_eq!(created["status"], "active");
    assert_eq!(created["http_timeout"], 15);
    assert_eq!(created["rate_limit"], 100);
    assert_eq!(created["rate_limit_duration"], 60);
    assert_eq!(created["advanced_signatures"], true);
    assert_eq!(created["signature_format"], "convoy");
    assert_eq!(created["content_type"], "application/json");
    let secrets = created["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0]["value"], "********");
    assert_eq!(secrets[0]["expires_at"], Value::Null);
    assert_eq!(
        created["authentication"],
        json!({"type": "api_key", "api_key": {"header_name": "Authorization", "header_value": "********"}})
    );

    let one = format!("{}/{uid}", endpoints(&project));
    let reply = call(c, Method::GET, &one, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["data"], created);

    // The project's API key manages its endpoints too; another project's key does not.
    let key = key.unwrap();
    let reply = c.api(Method::GET, &one, &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let (_, other_key) = c.create_project("outgoing").await;
    let reply = c.api(Method::GET, &one, &other_key.unwrap(), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // The list, whole, filtered by a part of the name and by owner.
    c.create_endpoint(&project, json!({"url": URL, "name": "other"}))
        .await;
    for (query, count) in [
        ("", 2),
        ("q=billing", 1),
        ("q=HOOK", 1),
        ("q=nothing", 0),
        ("ownerId=owner-1", 1),
        ("ownerId=owner-2", 0),
    ] {
        let reply = call(
            c,
            Method::GET,
            &format!("{}?{query}", endpoints(&project)),
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let data = reply.json()["data"].clone();
        assert_eq!(data["content"].as_array().unwrap().len(), count, "{query}");
        assert_eq!(data["pagination"]["has_next_page"], false);
    }

    // A partial update; the redacted authentication value keeps the stored one.
    let update = json!({
        "name": "Billing", "http_timeout": 20, "is_disabled": true,
        "authentication": {"type": "api_key",
                           "api_key": {"header_name": "X-Api-Key", "header_value": "********"}}
    });
    let reply = call(c, Method::PUT, &one, Some(update)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let updated = reply.json()["data"].clone();
    assert_eq!(updated["name"], "Billing");
    assert_eq!(updated["http_timeout"], 20);
    assert_eq!(updated["status"], "inactive");
    assert_eq!(updated["url"], URL);
    assert_eq!(updated["owner_id"], "owner-1");
    assert_eq!(updated["secrets"], created["secrets"]);
    assert_eq!(
        updated["authentication"]["api_key"]["header_name"],
        "X-Api-Key"
    );
    // Echoing the secret configured changes nothing; another one is a rotation.
    let reply = call(c, Method::PUT, &one, Some(json!({"secret": SECRET}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = call(c, Method::PUT, &one, Some(json!({"secret": "another"}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("expire_secret")
    );
    // Authentication can be removed; a redaction with nothing stored is refused.
    let reply = call(c, Method::PUT, &one, Some(json!({"authentication": null}))).await;
    assert_eq!(reply.json()["data"]["authentication"], Value::Null);
    let redacted = json!({"authentication": {"type": "api_key",
        "api_key": {"header_name": "X-Api-Key", "header_value": "********"}}});
    let reply = call(c, Method::PUT, &one, Some(redacted)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("authentication.api_key.header_value")
    );

    let reply = call(c, Method::DELETE, &one, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"name": "x"}));
        let reply = call(c, method, &one, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn endpoints_are_refused_with_the_field_at_fault() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let path = endpoints(&project);
    let refused = [
        (json!({"name": "n"}), "invalid_field", "url"),
        (json!({"url": URL}), "invalid_field", "name"),
        (json!({"url": URL, "name": " "}), "invalid_field", "name"),
        (
            json!({"url": "ftp://example.com/", "name": "n"}),
            "invalid_endpoint_url",
            "url",
        ),
        (
            json!({"url": "http://user:pw@example.com/", "name": "n"}),
            "invalid_endpoint_url",
            "url",
        ),
        (
            json!({"url": URL, "name": "n", "http_timeout": 0}),
            "invalid_field",
            "http_timeout",
        ),
        (
            json!({"url": URL, "name": "n", "http_timeout": 301}),
            "invalid_field",
            "http_timeout",
        ),
        (
            json!({"url": URL, "name": "n", "http_timeout": "10 seconds"}),
            "invalid_json",
            "http_timeout",
        ),
        (
            json!({"url": URL, "name": "n", "secret": "********"}),
            "invalid_field",
            "secret",
        ),
        (
            json!({"url": URL, "name": "n", "signature_format": "standard_webhooks", "secret": "short"}),
            "invalid_field",
            "secret",
        ),
        (
            json!({"url": URL, "name": "n", "authentication": {"type": "oauth2", "api_key": {"header_name": "a", "header_value": "b"}}}),
            "invalid_field",
            "authentication.type",
        ),
        (
            json!({"url": URL, "name": "n", "authentication": {"type": "api_key", "api_key": {"header_name": "bad name", "header_value": "b"}}}),
            "invalid_field",
            "authentication.api_key.header_name",
        ),
        (
            json!({"url": URL, "name": "n", "authentication": {"type": "api_key", "api_key": {"header_name": "Host", "header_value": "b"}}}),
            "invalid_field",
            "authentication.api_key.header_name",
        ),
        (
            json!({"url": URL, "name": "n", "content_type": "a\u{7}b"}),
            "invalid_field",
            "content_type",
        ),
    ];
    for (body, code, field) in refused {
        c.assert_bad_request(&path, body, code, &format!("{field}:"))
            .await;
    }
    c.assert_bad_request(
        &path,
        json!({"url": URL, "name": "n", "signature_format": "hmac"}),
        "invalid_json",
        "signature_format",
    )
    .await;

    // Convoy's older duration form, and the Standard Webhooks secret generated in its form.
    let endpoint = c
        .create_endpoint(
            &project,
            json!({"url": URL, "name": "n", "http_timeout": "1m", "signature_format": "standard_webhooks",
                   "advanced_signatures": false, "content_type": "application/x-www-form-urlencoded"}),
        )
        .await;
    assert_eq!(endpoint["http_timeout"], 60);
    assert_eq!(endpoint["signature_format"], "standard_webhooks");
    assert_eq!(endpoint["advanced_signatures"], false);
    assert_eq!(
        endpoint["content_type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(endpoint["secrets"][0]["value"], "********");

    let reply = c
        .api(
            Method::GET,
            &format!("{path}/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["message"], "endpoint not found");
    let reply = c
        .api(
            Method::GET,
            "/api/v1/projects/01ARZ3NDEKTSV4RRFFQ69G5FAV/endpoints",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoint_urls_follow_the_outbound_policy() {
    let mut t = TestServer::start_with(|s| s.allow_outbound = AllowList::default()).await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let path = endpoints(&project);
    for url in [
        "http://127.0.0.1:8080/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://localhost:3000/",
    ] {
        let body = json!({"url": url, "name": "n"});
        c.assert_bad_request(&path, body.clone(), "outbound_not_allowed", "url:")
            .await;
        // The admin token does not lift the policy, nor does the project's key.
        let reply = c
            .api(Method::POST, &path, key.as_deref().unwrap(), Some(body))
            .await;
        assert_eq!(reply.code(), "outbound_not_allowed", "{url}");
    }
    // A public name is judged when it is resolved, at delivery.
    let public = c
        .create_endpoint(
            &project,
            json!({"url": "https://example.com/hooks", "name": "n"}),
        )
        .await;
    let one = format!("{path}/{}", public["uid"].as_str().unwrap());
    let reply = c
        .api(
            Method::PUT,
            &one,
            ADMIN_TOKEN,
            Some(json!({"url": "http://127.0.0.1:9/"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "outbound_not_allowed");

    // With `--allow-outbound 127.0.0.1`, loopback is the operator's to allow.
    t.restart_with(|s| s.allow_outbound = AllowList::parse(["127.0.0.1"]).unwrap())
        .await;
    let c = &t.client;
    let allowed = c
        .create_endpoint(
            &project,
            json!({"url": "http://127.0.0.1:8080/", "name": "n"}),
        )
        .await;
    assert_eq!(allowed["url"], "http://127.0.0.1:8080/");
    c.assert_bad_request(
        &path,
        json!({"url": "http://10.0.0.1/", "name": "n"}),
        "outbound_not_allowed",
        "url:",
    )
    .await;
}

#[tokio::test]
async fn expire_secret_rotates_with_both_secrets_live() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let endpoint = c
        .create_endpoint(&project, json!({"url": URL, "name": "n", "secret": SECRET}))
        .await;
    let rotate = format!(
        "{}/{}/expire_secret",
        endpoints(&project),
        endpoint["uid"].as_str().unwrap()
    );

    let reply = call(c, Method::PUT, &rotate, Some(json!({"expiration": 2}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let secrets = reply.json()["data"]["secrets"].as_array().unwrap().clone();
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    assert_eq!(secrets[0]["uid"], endpoint["secrets"][0]["uid"]);
    assert!(secrets[0]["expires_at"].is_string(), "{secrets:?}");
    assert_eq!(secrets[1]["expires_at"], Value::Null);
    assert!(secrets.iter().all(|s| s["value"] == "********"));

    // Expiring the current one now drops it at once; the one expiring in 2 h stays.
    let body = json!({"secret": "rotated-secret-5531", "expiration": 0});
    let reply = call(c, Method::PUT, &rotate, Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let after = reply.json()["data"]["secrets"].as_array().unwrap().clone();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0]["uid"], secrets[0]["uid"]);
    assert_ne!(after[1]["uid"], secrets[1]["uid"]);
    assert_eq!(after[1]["expires_at"], Value::Null);

    for body in [
        json!({}),
        json!({"expiration": -1}),
        json!({"expiration": 100000}),
    ] {
        let reply = call(c, Method::PUT, &rotate, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .starts_with("expiration:")
        );
    }
    // At most ten live secrets at once.
    let mut live = 2;
    loop {
        let reply = call(c, Method::PUT, &rotate, Some(json!({"expiration": 1}))).await;
        if reply.status == StatusCode::BAD_REQUEST {
            assert_eq!(reply.code(), "too_many_secrets");
            break;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        live += 1;
        assert!(live <= 10, "more than 10 live secrets");
    }
    assert_eq!(live, 10);
}

#[tokio::test]
async fn pause_toggles_and_activate_resumes() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("outgoing").await;
    let endpoint = c
        .create_endpoint(
            &project,
            json!({"url": URL, "name": "n", "is_disabled": true}),
        )
        .await;
    assert_eq!(endpoint["status"], "inactive");
    let one = format!(
        "{}/{}",
        endpoints(&project),
        endpoint["uid"].as_str().unwrap()
    );
    let pause = format!("{one}/pause");
    let activate = format!("{one}/activate");

    let reply = call(c, Method::PUT, &pause, None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "endpoint_inactive");
    let status = |data: Value| data["status"].as_str().unwrap().to_string();
    let data = c
        .expect(Method::POST, &activate, None, StatusCode::OK)
        .await;
    assert_eq!(status(data), "active");
    let data = c.expect(Method::PUT, &pause, None, StatusCode::OK).await;
    assert_eq!(status(data), "paused");
    // Enabling does not resume a paused endpoint.
    let data = c
        .expect(
            Method::PUT,
            &one,
            Some(json!({"is_disabled": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(status(data), "paused");
    let data = c.expect(Method::PUT, &pause, None, StatusCode::OK).await;
    assert_eq!(status(data), "active");
    let data = c.expect(Method::GET, &one, None, StatusCode::OK).await;
    assert_eq!(status(data), "active");
}

#[tokio::test]
async fn an_outgoing_endpoint_gets_a_subscription_to_everything() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (outgoing, _) = c.create_project("outgoing").await;
    let endpoint = c
        .create_endpoint(&outgoing, json!({"url": URL, "name": "billing"}))
        .await;
    let uid = endpoint["uid"].as_str().unwrap();
    let subscriptions = format!("/api/v1/projects/{outgoing}/subscriptions?endpointId={uid}");
    let data = c
        .expect(Method::GET, &subscriptions, None, StatusCode::OK)
        .await;
    let content = data["content"].as_array().unwrap();
    assert_eq!(content.len(), 1, "{data}");
    assert_eq!(content[0]["endpoint_id"], uid);
    assert_eq!(content[0]["type"], "api");
    assert_eq!(content[0]["filter_config"]["event_types"], json!(["*"]));
    assert_eq!(content[0]["endpoint_metadata"]["uid"], uid);
    assert_eq!(content[0]["source_metadata"], Value::Null);

    // Deleting the endpoint deletes its subscriptions.
    let one = format!("{}/{uid}", endpoints(&outgoing));
    c.expect(Method::DELETE, &one, None, StatusCode::OK).await;
    let data = c
        .expect(Method::GET, &subscriptions, None, StatusCode::OK)
        .await;
    assert_eq!(data["content"], json!([]));

    // An incoming project's subscriptions name a source: none is made.
    let (incoming, _) = c.create_project("incoming").await;
    c.create_endpoint(&incoming, json!({"url": URL, "name": "n"}))
        .await;
    let path = format!("/api/v1/projects/{incoming}/subscriptions");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    assert_eq!(data["content"], json!([]));
}
