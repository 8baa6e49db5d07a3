//! The SNS sender and the EventBridge publisher against moto (the AWS emulator): texts are
//! read back from moto's `data.json`, events from an SQS queue a bus rule delivers to, and
//! the requests themselves are recorded on the wire by an SDK interceptor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nudge_tests::moto;
use nudge_tests::wire::{form, sms_attributes, sns_client, Recorder};

use chrono::{TimeZone, Utc};
use nudge_core::domain::{Category, PhoneNumber, TenantId};
use nudge_core::ports::{EventPublisher, OutboundEvent, SmsSender};
use nudge_core::Error;
use nudge_eventbridge::{EventBridgePublisher, RetryPolicy};
use nudge_sns::SnsSender;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn sms_in_moto(message_id: &str) -> Value {
    let data = moto::data();
    data["sns"]["SMS"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sms| sms["message_id"] == message_id)
        .cloned()
        .unwrap_or_else(|| panic!("no SMS {message_id} in moto"))
}

#[tokio::test]
async fn sns_sends_a_transactional_text_with_its_attributes() {
    let recorder = Recorder::default();
    let sender = SnsSender::new(
        sns_client(&recorder).await,
        Some("ACME".into()),
        Some("0.50".into()),
    );
    let phone = PhoneNumber::parse("+8613800138000", None).unwrap();
    let text = "【阿克米】王芳您好，订单A100已付款。";
    let sent = sender
        .send(&phone, text, Category::Transactional)
        .await
        .unwrap();

    let sms = sms_in_moto(&sent.provider_id);
    assert_eq!(sms["phone_number"], "+8613800138000");
    assert_eq!(sms["message"], text);
    let bodies = recorder.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(form(&bodies[0])["Action"], "Publish");
    let attributes = sms_attributes(&bodies[0]);
    assert_eq!(attributes["AWS.SNS.SMS.SMSType"], "Transactional");
    assert_eq!(attributes["AWS.SNS.SMS.SenderID"], "ACME");
    assert_eq!(attributes["AWS.SNS.SMS.MaxPrice"], "0.50");
}

#[tokio::test]
async fn sns_sends_care_and_marketing_as_promotional() {
    let recorder = Recorder::default();
    let sender = SnsSender::new(sns_client(&recorder).await, None, None);
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    for category in [Category::Care, Category::Marketing] {
        let text = format!("[ACME] {category} text. Reply STOP to opt out");
        let sent = sender.send(&phone, &text, category).await.unwrap();
        assert_eq!(sms_in_moto(&sent.provider_id)["message"], text.as_str());
    }
    for body in recorder.bodies() {
        let attributes = sms_attributes(&body);
        assert_eq!(attributes.len(), 1, "no sender id or max price configured");
        assert_eq!(attributes["AWS.SNS.SMS.SMSType"], "Promotional");
    }
}

#[tokio::test]
async fn sns_rejection_is_permanent_and_short() {
    let sender = SnsSender::new(sns_client(&Recorder::default()).await, None, None);
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    // moto rejects texts over 1600 bytes with InvalidParameter, as SNS does.
    let err = sender
        .send(&phone, &"x".repeat(1700), Category::Care)
        .await
        .unwrap_err();
    match err {
        Error::Provider {
            retryable, message, ..
        } => {
            assert!(!retryable);
            assert_eq!(message, "sns: InvalidParameter");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn sns_unreachable_endpoint_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sdk = moto::sdk_config().await;
    let config = aws_sdk_sns::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    let sender = SnsSender::new(aws_sdk_sns::Client::from_conf(config), None, None);
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    let err = sender
        .send(&phone, "hello", Category::Care)
        .await
        .unwrap_err();
    match err {
        Error::Provider {
            retryable, message, ..
        } => {
            assert!(retryable);
            assert_eq!(message, "sns: dispatch failure");
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A local endpoint answering every request with one canned HTTP response.
fn canned_endpoint(status: &str, body: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    url
}

#[tokio::test]
async fn sns_opted_out_answer_is_recognised() {
    // SNS's answer to a Publish to a number that opted out (query protocol error XML).
    let url = canned_endpoint(
        "400 Bad Request",
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>OptedOut</Code><Message>Phone number is opted out</Message></Error>
  <RequestId>9b3a2f1e-6c44-5a0e-b1f4-2d8e0c7a1b55</RequestId>
</ErrorResponse>"#,
    );
    let sdk = moto::sdk_config().await;
    let config = aws_sdk_sns::config::Builder::from(&sdk)
        .endpoint_url(url)
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    let sender = SnsSender::new(aws_sdk_sns::Client::from_conf(config), None, None);
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    let err = sender
        .send(&phone, "hello", Category::Marketing)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RecipientOptedOut { ref provider } if provider == "sns"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A bus with a rule delivering every `source: nudge` event to a fresh SQS queue.
struct Bus {
    name: String,
    queue_url: String,
    client: aws_sdk_eventbridge::Client,
    recorder: Recorder,
}

async fn bus() -> Bus {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("nudge-bus-{n}-{}", std::process::id());
    let queue = moto::json_call(
        "AmazonSQS.CreateQueue",
        json!({"QueueName": format!("{name}-q")}),
    );
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_string();
    let attributes = moto::json_call(
        "AmazonSQS.GetQueueAttributes",
        json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
    );
    let queue_arn = attributes["Attributes"]["QueueArn"].as_str().unwrap();

    let recorder = Recorder::default();
    let sdk = moto::sdk_config().await;
    let config = aws_sdk_eventbridge::config::Builder::from(&sdk)
        .interceptor(recorder.clone())
        .build();
    let client = aws_sdk_eventbridge::Client::from_conf(config);
    client.create_event_bus().name(&name).send().await.unwrap();
    client
        .put_rule()
        .name("all-nudge")
        .event_bus_name(&name)
        .event_pattern(r#"{"source": ["nudge"]}"#)
        .send()
        .await
        .unwrap();
    client
        .put_targets()
        .rule("all-nudge")
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    recorder.clear();
    Bus {
        name,
        queue_url,
        client,
        recorder,
    }
}

impl Bus {
    fn put_events_requests(&self) -> usize {
        self.recorder.bodies().len()
    }

    /// Every event delivered to the queue so far.
    fn delivered(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let answer = moto::json_call(
                "AmazonSQS.ReceiveMessage",
                json!({"QueueUrl": self.queue_url, "MaxNumberOfMessages": 10}),
            );
            let Some(messages) = answer["Messages"].as_array().filter(|m| !m.is_empty()) else {
                return out;
            };
            for message in messages {
                out.push(serde_json::from_str(message["Body"].as_str().unwrap()).unwrap());
            }
        }
    }
}

fn event(n: usize, detail_type: &str) -> OutboundEvent {
    OutboundEvent {
        detail_type: detail_type.into(),
        tenant: TenantId::parse("acme").unwrap(),
        time: Utc.with_ymd_and_hms(2026, 3, 9, 2, 0, 0).unwrap(),
        detail: json!({"message_id": format!("m_{n}"), "status": "sent"}),
    }
}

#[tokio::test]
async fn eventbridge_publishes_in_batches_of_ten() {
    let bus = bus().await;
    let publisher = EventBridgePublisher::new(bus.client.clone(), &bus.name);
    let events: Vec<OutboundEvent> = (0..25).map(|n| event(n, "message.sent")).collect();
    publisher.publish(&events).await.unwrap();

    assert_eq!(bus.put_events_requests(), 3, "25 events → 3 PutEvents");
    let delivered = bus.delivered();
    assert_eq!(delivered.len(), 25);
    let mut ids: Vec<String> = delivered
        .iter()
        .map(|e| {
            assert_eq!(e["source"], "nudge");
            assert_eq!(e["detail-type"], "message.sent");
            assert_eq!(e["detail"]["tenant"], "acme");
            assert_eq!(e["detail"]["status"], "sent");
            e["detail"]["message_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "every event exactly once");
}

#[tokio::test]
async fn eventbridge_retries_rejected_entries_then_reports_them() {
    let bus = bus().await;
    let publisher =
        EventBridgePublisher::new(bus.client.clone(), &bus.name).with_retry(RetryPolicy {
            rounds: 2,
            base_delay: Duration::from_millis(5),
        });
    // EventBridge (and moto) reject an entry without a detail type, per entry.
    let events = vec![event(1, "message.sent"), event(2, "")];
    let err = publisher.publish(&events).await.unwrap_err();
    match err {
        Error::Provider {
            retryable, message, ..
        } => {
            assert!(retryable);
            assert!(message.contains("1 of 2 events failed"), "{message}");
            assert!(message.contains("InvalidArgument"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        bus.put_events_requests(),
        3,
        "first request + 2 retry rounds"
    );
    let bodies = bus.recorder.bodies();
    let entries = |body: &str| {
        serde_json::from_str::<Value>(body).unwrap()["Entries"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(entries(&bodies[0]), 2);
    assert_eq!(
        entries(&bodies[1]),
        1,
        "only the rejected entry is sent again"
    );
    assert_eq!(entries(&bodies[2]), 1);
    let delivered = bus.delivered();
    assert_eq!(delivered.len(), 1, "the accepted event is delivered once");
    assert_eq!(delivered[0]["detail"]["message_id"], "m_1");
}

#[tokio::test]
async fn eventbridge_rejects_an_event_over_256_kb_before_sending() {
    let bus = bus().await;
    let publisher = EventBridgePublisher::new(bus.client.clone(), &bus.name);
    let mut big = event(1, "message.sent");
    big.detail = json!({"blob": "x".repeat(300 * 1024)});
    let err = publisher.publish(&[big]).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(bus.put_events_requests(), 0);
}
