//! The message → event path: Convoy's event body, `inlet_payload::parse_event(bytes, "p1")`,
//! as the REST API source takes it and as every Kafka, SQS and Pub/Sub message goes through
//! it (the broker worker parses the message payload and makes a dead letter of any error,
//! keeping `inlet_model::RawEncoding::encode(bytes)` as its raw).
//!
//! Input: the body or message payload. It must never panic; an event has what it needs
//! (an endpoint or owner, an event type, `data`); a dead letter's raw round-trips the bytes;
//! and either serializes and reads back as the store keeps it.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use inlet_model::{BrokerMetadata, DeadLetter, Event, RawEncoding};
use inlet_payload::parse_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let (raw, raw_encoding) = RawEncoding::encode(bytes);
    match raw_encoding {
        RawEncoding::Utf8 => assert_eq!(raw.as_bytes(), bytes),
        RawEncoding::Base64 => {
            assert!(std::str::from_utf8(bytes).is_err(), "UTF-8 bytes as base64");
            assert_eq!(BASE64.decode(&raw).unwrap(), bytes);
        }
        RawEncoding::Data => panic!("encode never leaves raw out"),
    }

    match parse_event(bytes, "p1") {
        Ok(event) => {
            assert_eq!(event.project_id, "p1");
            assert!(event.endpoint_id.is_some() || event.owner_id.is_some());
            assert!(!event.event_type.is_empty());
            assert_eq!(event.event_type, event.event_type.trim());
            assert_eq!(event.raw_encoding, RawEncoding::Data);
            let stored = serde_json::to_vec(&event).expect("an event serializes");
            let read: Event = serde_json::from_slice(&stored).expect("a stored event reads");
            assert_eq!(read.event_type, event.event_type);
            assert_eq!(read.data.get(), event.data.get());
        }
        Err(invalid) => {
            assert!(!invalid.message.is_empty());
            let dead_letter = DeadLetter {
                uid: String::new(),
                project_id: "p1".into(),
                source_id: "s1".into(),
                reason: invalid.message,
                raw,
                raw_encoding,
                broker: BrokerMetadata::default(),
                created_at: String::new(),
            };
            let stored = serde_json::to_vec(&dead_letter).expect("a dead letter serializes");
            let read: DeadLetter =
                serde_json::from_slice(&stored).expect("a stored dead letter reads");
            assert_eq!(read.raw, dead_letter.raw);
            assert_eq!(read.raw_encoding, dead_letter.raw_encoding);
        }
    }
});
