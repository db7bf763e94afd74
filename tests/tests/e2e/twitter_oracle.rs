//! Review finding H2: the Twitter CRC handshake answers `base64(HMAC-SHA256(secret, token))`,
//! the same construction as a POST's signature, so it must never sign a token that could be a
//! valid POST body. A forged event body is refused as a token, and a token-shaped body (which
//! the CRC does sign) is refused as a POST because it is not a JSON object.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac;
use hyper::StatusCode;
use inlet_tests::TestServer;
use serde_json::json;

const SECRET: &str = "twitter-consumer-secret";
const HEADER: &str = "x-twitter-webhooks-signature";

/// `sha256=<base64 HMAC-SHA256(SECRET, data)>`, computed independently of Inlet.
fn signature(data: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(data);
    format!("sha256={}", BASE64.encode(mac.finalize().into_bytes()))
}

fn crc_path(mask: &str, token: &[u8]) -> String {
    let token: String = form_urlencoded::byte_serialize(token).collect();
    format!("/ingest/{mask}?crc_token={token}")
}

#[tokio::test]
async fn twitter_crc_is_not_a_signing_oracle() {
    let t = TestServer::start().await;
    let c = &t.client;
    let source = json!({"name": "twitter", "type": "http", "provider": "twitter",
                        "verifier": {"type": "hmac", "hmac": {"secret": SECRET}}});
    let (project, mask) = c.incoming_source(source).await;

    // The attack: ask the CRC to sign a forged event. It is refused, with no response_token.
    let forged = br#"{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"forged"}]}"#;
    let reply = c.get(&crc_path(&mask, forged)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the CRC signed a forged body: {}",
        reply.text()
    );
    assert_eq!(reply.code(), "plugin_rejected");
    assert!(!reply.text().contains("response_token"), "{}", reply.text());

    // A token of Twitter's shape (base64 of a UUID, as Twitter sends) is still answered.
    let token = b"M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0";
    let reply = c.get(&crc_path(&mask, token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({"response_token": signature(token)}));

    // A token-shaped body that is JSON is signed, but as a POST it is no JSON object.
    let reply = c.get(&crc_path(&mask, b"true")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json()["response_token"].as_str().unwrap().to_string();
    let reply = c.ingest(&mask, &[(HEADER, &answer)], b"true").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(reply.code(), "plugin_rejected");

    // Genuinely signed POSTs: a JSON object is accepted, `[1]` is not.
    let body = br#"{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1"}]}"#;
    let reply = c.ingest(&mask, &[(HEADER, &signature(body))], body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = c
        .ingest(&mask, &[(HEADER, &signature(b"[1]"))], b"[1]")
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    assert_eq!(reply.code(), "plugin_rejected");

    let events = c.events(&project, "").await;
    let content = events["content"].as_array().unwrap();
    assert_eq!(content.len(), 1, "{events}");
    assert_eq!(content[0]["event_type"], "tweet_create_events");
    assert_eq!(content[0]["data"]["tweet_create_events"][0]["id_str"], "1");
}
