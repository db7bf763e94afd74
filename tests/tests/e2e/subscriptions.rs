//! Subscriptions, filters, project retry settings and the deliveries events get, over the
//! admin API in Convoy's shapes; and the REST API's fanout and broadcast forms.

use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, Client, TestServer};
use serde_json::{Value, json};

const URL: &str = "http://127.0.0.1:9/hooks";

fn subscriptions(project: &str) -> String {
    format!("/api/v1/projects/{project}/subscriptions")
}

/// An outgoing project with one endpoint; returns the project, its key and the endpoint uid.
async fn outgoing_with_endpoint(c: &Client, owner: &str) -> (String, String, String) {
    let (project, key) = c.create_project("outgoing").await;
    let endpoint = c
        .create_endpoint(
            &project,
            json!({"url": URL, "name": "billing", "owner_id": owner}),
        )
        .await;
    let uid = endpoint["uid"].as_str().unwrap().to_string();
    (project, key.unwrap(), uid)
}

#[tokio::test]
async fn subscriptions_are_managed_in_convoys_shapes() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key, endpoint) = outgoing_with_endpoint(c, "").await;
    let filter = json!({
        "event_types": ["invoice.paid"],
        "filter": {"headers": {"x-tenant": "acme"}, "body": {"amount": {"$gte": 100}}, "query": {}, "path": {}}
    });
    let body = json!({
        "name": "invoices", "endpoint_id": endpoint, "filter_config": filter,
        "retry_config": {"type": "exponential", "duration": "10s", "retry_count": 3},
        "delivery_mode": "at_least_once", "alert_config": {"count": 4, "threshold": "1h"}
    });
    let reply = c
        .api(Method::POST, &subscriptions(&project), &key, Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["message"], "Subscription created successfully");
    let created = reply.json()["data"].clone();
    let uid = created["uid"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "invoices");
    assert_eq!(created["type"], "api");
    assert_eq!(created["project_id"], project.as_str());
    assert_eq!(created["endpoint_id"], endpoint.as_str());
    assert_eq!(created["endpoint_metadata"]["uid"], endpoint.as_str());
    assert_eq!(
        created["endpoint_metadata"]["secrets"][0]["value"],
        "********"
    );
    assert_eq!(created["source_metadata"], Value::Null);
    assert_eq!(created["filter_config"], filter);
    assert_eq!(
        created["retry_config"],
        json!({"type": "exponential", "duration": 10, "retry_count": 3})
    );

    let one = format!("{}/{uid}", subscriptions(&project));
    let data = c.expect(Method::GET, &one, None, StatusCode::OK).await;
    assert_eq!(data, created);

    // With the endpoint's default subscription, two; filtered by endpoint and name.
    let other = c
        .create_endpoint(&project, json!({"url": URL, "name": "other"}))
        .await;
    let other = other["uid"].as_str().unwrap();
    for (query, count) in [
        (String::new(), 3),
        (format!("endpointId={endpoint}"), 2),
        (format!("endpointId={endpoint}&endpointId={other}"), 3),
        (format!("endpointId={other}"), 1),
        ("name=INVOICE".to_string(), 1),
        (format!("name=invoices&endpointId={other}"), 0),
    ] {
        let path = format!("{}?{query}", subscriptions(&project));
        let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
        assert_eq!(data["content"].as_array().unwrap().len(), count, "{query}");
    }

    // A partial update: moved to the other endpoint, the override removed, Convoy's
    // `interval_seconds` read.
    let data = c
        .expect(
            Method::PUT,
            &one,
            Some(json!({"endpoint_id": other, "retry_config": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["endpoint_id"], other);
    assert_eq!(data["endpoint_metadata"]["uid"], other);
    assert_eq!(data["retry_config"], Value::Null);
    assert_eq!(data["filter_config"], filter);
    assert_eq!(data["name"], "invoices");
    // What a retry_config leaves out is the project's (linear, 100 s, 10 by default).
    let data = c
        .expect(
            Method::PUT,
            &one,
            Some(json!({"retry_config": {"interval_seconds": 7}})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        data["retry_config"],
        json!({"type": "linear", "duration": 7, "retry_count": 10})
    );

    c.expect(Method::DELETE, &one, None, StatusCode::OK).await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"name": "x"}));
        let reply = c.api(method, &one, ADMIN_TOKEN, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.json()["message"], "subscription not found");
    }
}

#[tokio::test]
async fn subscriptions_are_refused_with_the_field_at_fault() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _, endpoint) = outgoing_with_endpoint(c, "").await;
    let path = subscriptions(&project);
    let with =
        |filter: Value| json!({"name": "s", "endpoint_id": endpoint, "filter_config": filter});
    let refused = [
        (json!({"endpoint_id": endpoint}), "invalid_field", "name:"),
        (json!({"name": "s"}), "invalid_field", "endpoint_id:"),
        (
            json!({"name": "s", "endpoint_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
            "unknown_endpoint",
            "endpoint_id:",
        ),
        (
            json!({"name": "s", "endpoint_id": endpoint, "source_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
            "invalid_field",
            "source_id:",
        ),
        // A bad operator, a bad regex, an impossible path: each located.
        (
            with(json!({"filter": {"body": {"amount": {"$near": 1}}}})),
            "invalid_filter",
            "filter_config.filter.body.amount.$near:",
        ),
        (
            with(json!({"filter": {"body": {"name": {"$regex": "(unclosed"}}}})),
            "invalid_filter",
            "filter_config.filter.body.name.$regex:",
        ),
        (
            with(json!({"filter": {"body": {"items..sku": "a"}}})),
            "invalid_filter",
            "filter_config.filter.body.items..sku:",
        ),
        (
            with(json!({"filter": {"headers": {"x-a": {"$gte": true}}}})),
            "invalid_filter",
            "filter_config.filter.headers.x-a.$gte:",
        ),
        (
            with(json!({"event_types": [""]})),
            "invalid_filter",
            "filter_config.event_types[0]:",
        ),
        (
            json!({"name": "s", "endpoint_id": endpoint, "retry_config": {"duration": 0}}),
            "invalid_field",
            "retry_config.duration:",
        ),
        (
            json!({"name": "s", "endpoint_id": endpoint, "retry_config": {"retry_count": 1000}}),
            "invalid_field",
            "retry_config.retry_count:",
        ),
    ];
    for (body, code, message) in refused {
        c.assert_bad_request(&path, body, code, message).await;
    }

    // Incoming projects: a subscription needs a source of the project.
    let (incoming, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &incoming,
            json!({"name": "gh", "type": "http",
                   "verifier": {"type": "hmac", "hmac": {"header": "X-Sig", "hash": "SHA256",
                                "secret": "source-secret-8812", "encoding": "hex"}}}),
        )
        .await;
    let endpoint = c
        .create_endpoint(&incoming, json!({"url": URL, "name": "n"}))
        .await;
    let path = subscriptions(&incoming);
    let body = json!({"name": "s", "endpoint_id": endpoint["uid"]});
    c.assert_bad_request(&path, body.clone(), "invalid_field", "source_id:")
        .await;
    let mut unknown = body.clone();
    unknown["source_id"] = json!("01ARZ3NDEKTSV4RRFFQ69G5FAV");
    c.assert_bad_request(&path, unknown, "unknown_source", "source_id:")
        .await;
    let mut valid = body;
    valid["source_id"] = source["uid"].clone();
    let reply = c.api(Method::POST, &path, ADMIN_TOKEN, Some(valid)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(
        !reply.text().contains("source-secret-8812"),
        "{}",
        reply.text()
    );
    let data = reply.json()["data"].clone();
    assert_eq!(data["source_id"], source["uid"]);
    assert_eq!(data["source_metadata"]["uid"], source["uid"]);
    assert_eq!(
        data["source_metadata"]["verifier"]["hmac"]["secret"],
        "********"
    );
}

#[tokio::test]
async fn test_filter_says_whether_a_request_matches() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key) = c.create_project("outgoing").await;
    let path = format!("{}/test_filter", subscriptions(&project));
    let test = |amount: u64| {
        json!({
            "request": {"header": {"X-Tenant": "acme"}, "body": {"amount": amount, "currency": "EUR"}},
            "schema": {"header": {"x-tenant": "acme"},
                       "body": {"amount": {"$gte": 100}, "$or": [{"currency": "USD"}, {"currency": "EUR"}]}}
        })
    };
    for (amount, expected) in [(150, true), (50, false)] {
        let reply = c
            .api(
                Method::POST,
                &path,
                key.as_deref().unwrap(),
                Some(test(amount)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["data"], json!({"is_match": expected}));
    }
    let bad = json!({"request": {}, "schema": {"body": {"amount": {"$regex": "["}}}});
    c.assert_bad_request(&path, bad, "invalid_filter", "schema.body.amount.$regex:")
        .await;
}

#[tokio::test]
async fn project_config_sets_the_retry_strategy_and_signature() {
    let t = TestServer::start().await;
    let c = &t.client;
    let config = json!({
        "strategy": {"type": "exponential", "duration": 5, "retry_count": 3},
        "signature": {"header": "X-Acme-Signature", "versions": [{"hash": "sha512", "encoding": "BASE64"}]},
        "ratelimit": {"count": 1000, "duration": 60}
    });
    let body = json!({"name": "p", "type": "outgoing", "config": config});
    let created = c
        .expect(
            Method::POST,
            "/api/v1/projects",
            Some(body),
            StatusCode::CREATED,
        )
        .await;
    let uid = created["uid"].as_str().unwrap();
    assert_eq!(
        created["config"],
        json!({
            "strategy": {"type": "exponential", "duration": 5, "retry_count": 3},
            "signature": {"header": "X-Acme-Signature", "versions": [{"hash": "SHA512", "encoding": "base64"}]},
            "disable_endpoint": false,
            "circuit_breaker": {"consecutive_failure_threshold": 10, "error_timeout": 30, "observability_window": 5}
        })
    );
    // Omitted, the defaults: Convoy's linear 100 s, 10 retries, and its signature.
    let plain = c
        .expect(
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "q", "type": "incoming"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        plain["config"],
        json!({
            "strategy": {"type": "linear", "duration": 100, "retry_count": 10},
            "signature": {"header": "X-Convoy-Signature", "versions": [{"hash": "SHA256", "encoding": "hex"}]},
            "disable_endpoint": false,
            "circuit_breaker": {"consecutive_failure_threshold": 10, "error_timeout": 30, "observability_window": 5}
        })
    );

    // An update of one part keeps the other.
    let one = format!("/api/v1/projects/{uid}");
    let data = c
        .expect(
            Method::PUT,
            &one,
            Some(json!({"config": {"strategy": {"type": "linear", "duration": 30, "retry_count": 2}}})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        data["config"]["strategy"],
        json!({"type": "linear", "duration": 30, "retry_count": 2})
    );
    assert_eq!(data["config"]["signature"], created["config"]["signature"]);
    let data = c.expect(Method::GET, &one, None, StatusCode::OK).await;
    assert_eq!(data["config"]["strategy"]["duration"], 30);

    let refused = [
        (
            json!({"strategy": {"duration": 0}}),
            "invalid_field",
            "config.strategy.duration:",
        ),
        (
            json!({"strategy": {"retry_count": 101}}),
            "invalid_field",
            "config.strategy.retry_count:",
        ),
        (
            json!({"strategy": {"type": "fibonacci"}}),
            "invalid_json",
            "config.strategy.type",
        ),
        (
            json!({"signature": {"versions": []}}),
            "invalid_field",
            "config.signature.versions:",
        ),
        (
            json!({"signature": {"versions": [{"hash": "MD5", "encoding": "hex"}]}}),
            "invalid_field",
            "config.signature.versions[0].hash:",
        ),
        (
            json!({"signature": {"versions": [{"hash": "SHA256", "encoding": "base32"}]}}),
            "invalid_field",
            "config.signature.versions[0].encoding:",
        ),
        (
            json!({"signature": {"header": "bad header"}}),
            "invalid_field",
            "config.signature.header:",
        ),
        (
            json!({"circuit_breaker": {"consecutive_failure_threshold": 0}}),
            "invalid_field",
            "config.circuit_breaker.consecutive_failure_threshold:",
        ),
        (
            json!({"circuit_breaker": {"error_timeout": 86401}}),
            "invalid_field",
            "config.circuit_breaker.error_timeout:",
        ),
        (
            json!({"retention_policy": {"policy": "30 days"}}),
            "invalid_field",
            "config.retention_policy.policy:",
        ),
        (
            json!({"meta_event": {"is_enabled": true, "endpoint_id": ""}}),
            "invalid_field",
            "config.meta_event.endpoint_id:",
        ),
        (
            json!({"meta_event": {"is_enabled": true, "endpoint_id": "e", "event_type": ["endpoint.exploded"]}}),
            "invalid_field",
            "config.meta_event.event_type[0]:",
        ),
    ];
    for (config, code, message) in refused {
        let body = json!({"name": "p", "type": "outgoing", "config": config});
        c.assert_bad_request("/api/v1/projects", body, code, message)
            .await;
        let reply = c
            .api(
                Method::PUT,
                &one,
                ADMIN_TOKEN,
                Some(json!({"config": config})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{config}");
        assert_eq!(reply.code(), code, "{config}");
    }
}

/// Posts an event in one of the REST API's forms (`""`, `/fanout`, `/broadcast`).
async fn send(c: &Client, project: &str, key: &str, form: &str, body: Value) -> inlet_tests::Reply {
    let path = format!("/api/v1/projects/{project}/events{form}");
    c.api(Method::POST, &path, key, Some(body)).await
}

/// The deliveries listed with `query`.
async fn deliveries(c: &Client, project: &str, query: &str) -> Vec<Value> {
    let path = format!("/api/v1/projects/{project}/eventdeliveries?{query}");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    data["content"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_event_is_stored_with_its_delivery() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key, endpoint) = outgoing_with_endpoint(c, "").await;
    // Paused, its delivery stays Scheduled however fast the worker is.
    let one = format!("/api/v1/projects/{project}/endpoints/{endpoint}");
    c.expect(Method::PUT, &format!("{one}/pause"), None, StatusCode::OK)
        .await;
    let base = format!("/api/v1/projects/{project}/eventdeliveries");
    let data = c.expect(Method::GET, &base, None, StatusCode::OK).await;
    assert_eq!(data["content"], json!([]));
    assert_eq!(data["pagination"]["has_next_page"], false);

    let body = json!({"endpoint_id": endpoint, "event_type": "invoice.paid", "data": {"n": 1}});
    let reply = send(c, &project, &key, "", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let event = reply.json()["data"]["uid"].as_str().unwrap().to_string();

    let listed = deliveries(c, &project, &format!("eventId={event}")).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let delivery = &listed[0];
    let subscription = c
        .expect(
            Method::GET,
            &format!("{}?endpointId={endpoint}", subscriptions(&project)),
            None,
            StatusCode::OK,
        )
        .await["content"][0]["uid"]
        .clone();
    assert_eq!(delivery["endpoint_id"], endpoint.as_str());
    assert_eq!(delivery["subscription_id"], subscription);
    assert_eq!(delivery["event_id"], event.as_str());
    assert_eq!(delivery["event_type"], "invoice.paid");
    assert_eq!(delivery["status"], "Scheduled");
    let delivery_id = delivery["uid"].as_str().unwrap();

    for (query, count) in [
        (format!("endpointId={endpoint}"), 1),
        ("endpointId=01ARZ3NDEKTSV4RRFFQ69G5FAV".to_string(), 0),
        (
            format!("subscriptionId={}", subscription.as_str().unwrap()),
            1,
        ),
        ("eventType=invoice.paid".to_string(), 1),
        ("eventType=other".to_string(), 0),
        ("status=Scheduled".to_string(), 1),
        ("status=Success&status=Failure".to_string(), 0),
        ("status=Success&status=scheduled".to_string(), 1),
        (
            "startDate=2000-01-01T00:00:00Z&endDate=2000-01-02T00:00:00Z".to_string(),
            0,
        ),
        ("perPage=1".to_string(), 1),
    ] {
        assert_eq!(
            deliveries(c, &project, &query).await.len(),
            count,
            "{query}"
        );
    }
    for query in [
        "status=Delivered",
        "perPage=0",
        "startDate=yesterday",
        "next_page_cursor=x",
    ] {
        let reply = c
            .api(Method::GET, &format!("{base}?{query}"), ADMIN_TOKEN, None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.code(), "invalid_query", "{query}");
    }

    let data = c
        .expect(
            Method::GET,
            &format!("{base}/{delivery_id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["uid"], delivery_id);
    assert_eq!(data["endpoint_metadata"]["uid"], endpoint.as_str());
    assert_eq!(
        data["event_metadata"],
        json!({"uid": event, "event_type": "invoice.paid"})
    );
    let reply = c
        .api(
            Method::GET,
            &format!("{base}/{delivery_id}/deliveryattempts"),
            &key,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["message"],
        "Event delivery attempts fetched successfully"
    );
    assert_eq!(reply.json()["data"], json!([]));
    for path in [
        format!("{base}/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        format!("{base}/01ARZ3NDEKTSV4RRFFQ69G5FAV/deliveryattempts"),
        format!("{base}/{delivery_id}/deliveryattempts/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ] {
        let reply = c.api(Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }

    // The event says how its deliveries stand.
    let data = c
        .expect(
            Method::GET,
            &format!("/api/v1/projects/{project}/events/{event}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["data"], json!({"n": 1}));
    assert_eq!(data["deliveries"]["total"], 1);
    assert_eq!(data["deliveries"]["Scheduled"], 1);
    assert_eq!(data["deliveries"]["Success"], 0);

    // An endpoint the project does not have is refused, as Convoy does.
    let body = json!({"endpoint_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "event_type": "t", "data": {}});
    let reply = send(c, &project, &key, "", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "unknown_endpoint");
}

#[tokio::test]
async fn fanout_and_broadcast_reach_their_endpoints() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, key, first) = outgoing_with_endpoint(c, "owner-1").await;
    let second = c
        .create_endpoint(
            &project,
            json!({"url": URL, "name": "second", "owner_id": "owner-2"}),
        )
        .await;
    let second = second["uid"].as_str().unwrap();
    // Paused: the deliveries stay as the store made them.
    for endpoint in [first.as_str(), second] {
        let path = format!("/api/v1/projects/{project}/endpoints/{endpoint}/pause");
        c.expect(Method::PUT, &path, None, StatusCode::OK).await;
    }
    let endpoints_of = |deliveries: Vec<Value>| -> Vec<String> {
        let mut ids: Vec<String> = deliveries
            .iter()
            .map(|d| d["endpoint_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };

    let body = json!({"owner_id": "owner-1", "event_type": "t", "data": {}});
    let reply = send(c, &project, &key, "/fanout", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["message"], "Fanout event created successfully");
    let event = reply.json()["data"]["uid"].as_str().unwrap().to_string();
    let listed = deliveries(c, &project, &format!("eventId={event}")).await;
    assert_eq!(endpoints_of(listed), vec![first.clone()]);

    let body = json!({"event_type": "t", "data": {}});
    let reply = send(c, &project, &key, "/broadcast", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        reply.json()["message"],
        "Broadcast event created successfully"
    );
    let event = reply.json()["data"]["uid"].as_str().unwrap().to_string();
    let listed = deliveries(c, &project, &format!("eventId={event}")).await;
    let mut both = vec![first.clone(), second.to_string()];
    both.sort();
    assert_eq!(endpoints_of(listed), both);

    for (form, body, field) in [
        (
            "/fanout",
            json!({"event_type": "t", "data": {}}),
            "owner_id",
        ),
        (
            "/fanout",
            json!({"owner_id": "o", "endpoint_id": first, "event_type": "t", "data": {}}),
            "endpoint_id",
        ),
        (
            "/fanout",
            json!({"owner_id": "o", "data": {}}),
            "event_type",
        ),
        (
            "/broadcast",
            json!({"endpoint_id": first, "event_type": "t", "data": {}}),
            "endpoint_id",
        ),
        (
            "/broadcast",
            json!({"owner_id": "o", "event_type": "t", "data": {}}),
            "owner_id",
        ),
        ("/broadcast", json!({"event_type": "t"}), "data"),
    ] {
        let reply = send(c, &project, &key, form, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{form} {body}");
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with(field), "{form} {body}: {message}");
    }
    // Only outgoing projects have the REST API source.
    let (incoming, _) = c.create_project("incoming").await;
    let body = json!({"event_type": "t", "data": {}});
    let reply = send(c, &incoming, ADMIN_TOKEN, "/broadcast", body).await;
    assert_eq!(reply.code(), "wrong_project_type");
}
