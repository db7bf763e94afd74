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
            receipt: Some(Self::receipt(&message.metadata)),
        }
    }

    /// A Kafka message is a position in its partition; any other, its message id.
    fn receipt(metadata: &BrokerMetadata) -> Receipt {
        match (&metadata.topic, metadata.partition, metadata.offset) {
            (Some(topic), Some(partition), Some(offset)) => Receipt::Offset {
                log: format!("{topic}/{partition}"),
                offset,
            },
            _ => Receipt::Id(metadata.message_id.clone()),
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
