//! The table's stream as the send function receives it. A record's new image is turned into
//! the same item the store writes and read through the store's own item mapping (`items.rs`),
//! so the stream and the store cannot disagree about what a message item holds.
use serde_json::Value;

use super::items::{self, Item};
use super::keys::{self, kind};
use nudge_core::domain::{Message, MessageStatus, TenantId};

/// What the new image of a stream record is, for sending.
#[derive(Debug, PartialEq)]
pub enum StreamImage {
    /// A message item, read from its body as the store reads it.
    Message(Box<Message>),
    /// A message item whose `status` attribute says it is no longer queued: nothing to send.
    NotQueued { status: String },
    /// An image nothing can be sent from.
    Unreadable(Unreadable),
}

/// An image nothing can be sent from, with what could be read of it.
#[derive(Debug, PartialEq)]
pub struct Unreadable {
    /// What is wrong with it, for the log.
    pub why: &'static str,
    /// The item's key attributes as far as they are there, for the log.
    pub pk: Option<String>,
    pub sk: Option<String>,
    /// A message item whose body is JSON but not a message, when that JSON names the
    /// message's id and its tenant can be told (from the body, else from the key): the message
    /// can then be reported as failed.
    pub message: Option<(TenantId, String)>,
}

/// Reads the new image of a stream record (`dynamodb.NewImage`).
pub fn read_new_image(image: serde_dynamo::Item) -> StreamImage {
    let item: Item = image.into();
    let unreadable = |why, message| {
        StreamImage::Unreadable(Unreadable {
            why,
            pk: items::get_s(&item, keys::PK).map(str::to_string),
            sk: items::get_s(&item, keys::SK).map(str::to_string),
            message,
        })
    };
    if items::get_s(&item, keys::KIND) != Some(kind::MESSAGE) {
        return unreadable("not a message item", None);
    }
    if let Some(status) = items::get_s(&item, keys::STATUS) {
        if status != MessageStatus::Queued.as_str() {
            return StreamImage::NotQueued {
                status: status.to_string(),
            };
        }
    }
    match items::body::<Message>(&item) {
        Ok(message) => StreamImage::Message(Box::new(message)),
        // The store's mapping says only that the body is unusable; the log and the failure
        // report need to know how.
        Err(_) => {
            let Some(text) = items::get_s(&item, keys::BODY) else {
                return unreadable("no body", None);
            };
            let Ok(body) = serde_json::from_str::<Value>(text) else {
                return unreadable("body is not JSON", None);
            };
            let pk = items::get_s(&item, keys::PK);
            unreadable("body is not a message", failed_message(&body, pk))
        }
    }
}

/// The tenant and id of a message whose body is JSON but not a message.
fn failed_message(body: &Value, pk: Option<&str>) -> Option<(TenantId, String)> {
    let id = body.get("id")?.as_str()?;
    let tenant = body
        .get("tenant")
        .and_then(Value::as_str)
        .or_else(|| pk.and_then(keys::tenant_of))?;
    let tenant = TenantId::parse(tenant).ok()?;
    Some((tenant, id.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aws_lambda_events::dynamodb::{Event, EventRecord};
    use serde_json::json;

    /// A message as its JSON body has it (the fields it leaves out take their defaults).
    fn message(status: MessageStatus) -> Message {
        serde_json::from_value(json!({
            "tenant": "acme",
            "id": "m_1",
            "customer_id": "c-1",
            "rule": "thank-you",
            "category": "transactional",
            "occurrence": "ev-1",
            "phone": "+8613800138000",
            "text": "【阿克米】订单已付款。",
            "segments": 1,
            "status": status.as_str(),
            "created_at": "2026-03-09T02:00:00Z",
            "updated_at": "2026-03-09T02:00:00Z"
        }))
        .unwrap()
    }

    /// A stream record as Lambda delivers it, with `image` (DynamoDB JSON) as its new image.
    fn record(image: Value) -> EventRecord {
        serde_json::from_value(json!({
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1773021600,
                "Keys": {"PK": image["PK"], "SK": image["SK"]},
                "NewImage": image,
                "SequenceNumber": "4421584500000000017450439091",
                "SizeBytes": 566,
                "StreamViewType": "NEW_IMAGE"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/nudge/stream/2026-03-01T00:00:00.000"
        }))
        .unwrap()
    }

    /// The DynamoDB JSON of the item the store writes for `m`.
    fn stored_image(m: &Message) -> Value {
        let item: serde_dynamo::Item = items::message(m, keys::DEFAULT_SHARDS).unwrap().into();
        serde_json::to_value(item).unwrap()
    }

    #[test]
    fn the_image_of_a_stored_message_reads_back_as_that_message() {
        let queued = message(MessageStatus::Queued);
        let image = stored_image(&queued);
        assert_eq!(image["kind"], json!({"S": "message"}));
        let record = record(image);
        assert_eq!(
            read_new_image(record.change.new_image),
            StreamImage::Message(Box::new(queued))
        );
    }

    #[test]
    fn the_sample_stream_event_holds_queued_messages() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/events/dynamodb-stream.json"
        );
        let event: Event = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(event.records.len(), 3);
        for record in event.records {
            let sk = items::get_s(&record.change.new_image.clone().into(), keys::SK)
                .unwrap()
                .to_string();
            match read_new_image(record.change.new_image) {
                StreamImage::Message(m) => {
                    assert_eq!(m.status, MessageStatus::Queued);
                    assert!(sk.ends_with(m.id.as_str()), "{sk}");
                }
                other => panic!("{sk}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_message_no_longer_queued_is_not_sent() {
        let image = stored_image(&message(MessageStatus::Sent));
        assert_eq!(
            read_new_image(record(image).change.new_image),
            StreamImage::NotQueued {
                status: "sent".into()
            }
        );
    }

    #[test]
    fn unreadable_images_say_why_and_name_the_message_when_they_can() {
        let good = stored_image(&message(MessageStatus::Queued));
        let with = |name: &str, value: Value| {
            let mut image = good.clone();
            image[name] = value;
            image
        };
        let mut bodiless = good.clone();
        bodiless.as_object_mut().unwrap().remove("body");
        let cases = [
            (
                with("kind", json!({"S": "customer"})),
                "not a message item",
                None,
            ),
            (bodiless, "no body", None),
            (
                with("body", json!({"S": "{not json"})),
                "body is not JSON",
                None,
            ),
            (
                with("body", json!({"S": r#"{"id": "m_1", "text": 42}"#})),
                "body is not a message",
                Some((TenantId::parse("acme").unwrap(), "m_1".to_string())),
            ),
            (
                with("body", json!({"S": r#"{"text": 42}"#})),
                "body is not a message",
                None,
            ),
        ];
        for (image, why, message) in cases {
            let got = read_new_image(record(image).change.new_image);
            let want = StreamImage::Unreadable(Unreadable {
                why,
                pk: Some("T#acme#C#c-1".into()),
                sk: Some("MSG#2026-03-09T02:00:00Z#m_1".into()),
                message,
            });
            assert_eq!(got, want, "{why}");
        }
    }
}
