//! Webhook bodies (`inlet_payload::Payload::from_body`): JSON, form
//! (`application/x-www-form-urlencoded`), multipart (`multipart/form-data; boundary=…`) or
//! any other content type.
//!
//! Input: the content type, a newline, then the body (no newline: no content type, the
//! whole input is the body). It must never panic; `raw` must round-trip the bytes (as text
//! when they are UTF-8, else as base64); `data` must be JSON; and only a multipart body can
//! be refused.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use inlet_model::RawEncoding;
use inlet_payload::Payload;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => (
            Some(String::from_utf8_lossy(&data[..newline]).into_owned()),
            &data[newline + 1..],
        ),
        None => (None, data),
    };
    let payload = futures_executor::block_on(Payload::from_body(
        content_type.as_deref(),
        Bytes::copy_from_slice(body),
    ));
    let payload = match payload {
        Ok(payload) => payload,
        Err(invalid) => {
            let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
            assert!(
                content_type.contains("multipart/form-data"),
                "refused a {content_type:?} body: {} {}",
                invalid.code,
                invalid.message
            );
            return;
        }
    };
    match payload.raw_encoding {
        RawEncoding::Utf8 => assert_eq!(payload.raw.as_bytes(), body),
        RawEncoding::Base64 => {
            assert!(std::str::from_utf8(body).is_err(), "UTF-8 body as base64");
            assert_eq!(BASE64.decode(&payload.raw).unwrap(), body);
        }
        RawEncoding::Data => panic!("a webhook body always keeps its raw bytes"),
    }
    assert!(serde_json::from_str::<&RawValue>(payload.data.get()).is_ok());
});
