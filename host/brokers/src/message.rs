//! A broker message becomes an event when it is Convoy's event body (as the REST API takes
//! it), or a dead letter that says why not. Either way it is stored with its receipt.

use inlet_model::{BrokerMetadata, DeadLetter, RawEncoding, Source};
use inlet_payload::parse_event;
use inlet_store::{Incoming, Receipt, Record};

/// A message as received, detached from the client that fetched it.
pub struct Message {
    pub payload: Vec<u8>,
    pub metadata: BrokerMetadata,
}

/// Converts the messages of one source.
pub struct Converter {
    project_id: String,
    source_id: String,
}

impl Converter {
    pub fn new(source: &Source) -> Self {
        Self {
            project_id: source.project_id.clone(),
            source_id: source.uid.clone(),
        }
    }

    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    pub fn incoming(&self, message: &Message) -> Incoming {
        let event = if message.payload.is_empty() {
            Err("the message is empty; expected Convoy's event JSON".to_string())
        } else {
            parse_event(&message.payload, &self.project_id).map_err(|e| e.message)
        };
        let record = match event {
            Ok(mut event) => {
                event.source_id = self.source_id.clone();
                event.broker = Some(Box::new(message.metadata.clone()));
                Record::Event(event)
            }
            Err(reason) => {
                let (raw, raw_encoding) = RawEncoding::encode(&message.payload);
                Record::DeadLetter(DeadLetter {
                    uid: String::new(),
                    project_id: self.project_id.clone(),
                    source_id: self.source_id.clone(),
                    reason,
                    raw,
                    raw_encoding,
                    broker: message.metadata.clone(),
                    created_at: String::new(),
                })
            }
        };
        Incoming {
            record,
            receipt: Self::receipt(&message.metadata),
        }
    }

    /// A Kafka message is a position in its partition; any other, its message id. A message
    /// without an id (an SQS-compatible server may leave `MessageId` out) has no receipt:
    /// it is stored each time it is delivered, rather than taken, with every other such
    /// message, for a redelivery of the first and dropped.
    fn receipt(metadata: &BrokerMetadata) -> Option<Receipt> {
        match (&metadata.topic, metadata.partition, metadata.offset) {
            (Some(topic), Some(partition), Some(offset)) => Some(Receipt::Offset {
                log: format!("{topic}/{partition}"),
                offset,
            }),
            _ if metadata.message_id.is_empty() => None,
            _ => Some(Receipt::Id(metadata.message_id.clone())),
        }
    }
}

/// Bytes as text, or base64 (noting the field) when they are not UTF-8.
pub fn text(bytes: &[u8], field: &str, base64_fields: &mut Vec<String>) -> String {
    let (text, encoding) = RawEncoding::encode(bytes);
    if encoding == RawEncoding::Base64 {
        base64_fields.push(field.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use inlet_metrics::Metrics;
    use inlet_store::{Store, Stored};

    use super::*;

    #[tokio::test]
    async fn messages_without_an_id_are_each_stored_and_ones_with_an_id_once() {
        let source: Source = serde_json::from_value(serde_json::json!({
            "uid": "s1", "project_id": "p1", "mask_id": "m1", "name": "sqs", "type": "pub_sub",
            "verifier": {"type": "noop"}, "created_at": "", "updated_at": ""
        }))
        .unwrap();
        let convert = Converter::new(&source);
        let message = |id: &str, seq: u32| Message {
            payload: format!(
                r#"{{"endpoint_id": "e", "event_type": "t", "data": {{"seq": {seq}}}}}"#
            )
            .into_bytes(),
            metadata: BrokerMetadata {
                message_id: id.to_string(),
                ..Default::default()
            },
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(Metrics::default())).unwrap();
        let batch = [
            message("", 0),
            message("", 1),
            message("id-1", 2),
            message("id-1", 2),
        ];
        let records = batch.iter().map(|m| convert.incoming(m)).collect();
        let stored = store.append(records).await.unwrap();
        let kinds: Vec<_> = stored
            .iter()
            .map(|s| match s {
                Stored::Event(_) => "event",
                Stored::DeadLetter(_) => "dead letter",
                Stored::Redelivered => "again",
            })
            .collect();
        assert_eq!(kinds, ["event", "event", "event", "again"]);
    }
}
