//! The SNS sender and the EventBridge publisher against moto (the AWS emulator): texts are
//! read back from moto's `data.json`, events from an SQS queue a bus rule delivers to, and
//! the requests themselves are recorded on the wire by an SDK interceptor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nudge_tests::moto;
use nudge_tests::wire::{form, sms_attributes, sns_client, Recorder};

use chrono::{TimeZone, Utc};
use nudge_core::domain::{Category, Origination, PhoneNumber, TenantId};
use nudge_core::ports::{
    EventPublisher, OutboundEvent, ProviderOptIn, ProviderOptOuts, SendError, SmsSender,
};
use nudge_core::Error;
use nudge_eventbridge::{EventBridgePublisher, RetryPolicy};
use nudge_sns::{SnsOptOutList, SnsSender};
use nudge_tests::texts::TestText;
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

/// The Publish requests among the recorded ones (each text is preceded by its opt-out check).
fn publishes(recorder: &Recorder) -> Vec<String> {
    recorder
        .bodies()
        .into_iter()
        .filter(|body| form(body)["Action"] == "Publish")
        .collect()
}

#[tokio::test]
async fn sns_sends_a_transactional_text_with_its_attributes() {
    let recorder = Recorder::default();
    let sender = SnsSender::new(
        sns_client(&recorder).await,
        Some("ACME".into()),
        Some("0.50".into()),
    );
    let text = "【阿克米】王芳您好，订单A100已付款。";
    let sent = sender
        .send(&TestText::new("+8613800138000", text, Category::Transactional).outgoing())
        .await
        .unwrap();

    assert_eq!(sent.provider, "sns");
    let sms = sms_in_moto(&sent.provider_id);
    assert_eq!(sms["phone_number"], "+8613800138000");
    assert_eq!(sms["message"], text);
    let bodies = recorder.bodies();
    let actions: Vec<String> = bodies.iter().map(|b| form(b)["Action"].clone()).collect();
    assert_eq!(actions, ["CheckIfPhoneNumberIsOptedOut", "Publish"]);
    assert_eq!(form(&bodies[0])["phoneNumber"], "+8613800138000");
    let attributes = sms_attributes(&bodies[1]);
    assert_eq!(attributes["AWS.SNS.SMS.SMSType"], "Transactional");
    assert_eq!(attributes["AWS.SNS.SMS.SenderID"], "ACME");
    assert_eq!(attributes["AWS.SNS.SMS.MaxPrice"], "0.50");
}

#[tokio::test]
async fn sns_sends_from_the_tenants_own_number() {
    let recorder = Recorder::default();
    let sender = SnsSender::new(sns_client(&recorder).await, Some("ACME".into()), None);
    let own = Origination::Number(PhoneNumber::parse("+18335550100", None).unwrap());
    let text = TestText::new("+14255550182", "[ACME] hi", Category::Care).from(own);
    sender.send(&text.outgoing()).await.unwrap();
    let attributes = sms_attributes(&publishes(&recorder)[0]);
    assert_eq!(attributes["AWS.MM.SMS.OriginationNumber"], "+18335550100");
    assert!(
        !attributes.contains_key("AWS.SNS.SMS.SenderID"),
        "a number, not the default sender id: {attributes:?}"
    );
}

#[tokio::test]
async fn sns_sends_care_and_marketing_as_promotional() {
    let recorder = Recorder::default();
    let sender = SnsSender::new(sns_client(&recorder).await, None, None);
    for category in [Category::Care, Category::Marketing] {
        let text = format!("[ACME] {category} text. Reply STOP to opt out");
        let sent = sender
            .send(&TestText::new("+14255550182", &text, category).outgoing())
            .await
            .unwrap();
        assert_eq!(sms_in_moto(&sent.provider_id)["message"], text.as_str());
    }
    for body in publishes(&recorder) {
        let attributes = sms_attributes(&body);
        assert_eq!(attributes.len(), 1, "no sender id or max price configured");
        assert_eq!(attributes["AWS.SNS.SMS.SMSType"], "Promotional");
    }
}

#[tokio::test]
async fn a_number_on_the_accounts_opt_out_list_is_refused_before_publish() {
    // moto reports every number ending in 99 as opted out.
    let recorder = Recorder::default();
    let sender = SnsSender::new(sns_client(&recorder).await, None, None);
    let err = sender
        .send(&TestText::new("+14255550199", "[ACME] hi", Category::Marketing).outgoing())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::OptedOut { ref provider } if provider == "sns"),
        "{err:?}"
    );
    assert!(publishes(&recorder).is_empty(), "nothing published");

    let unchecked =
        SnsSender::new(sns_client(&recorder).await, None, None).checking_opt_outs(false);
    unchecked
        .send(&TestText::new("+14255550199", "[ACME] hi", Category::Marketing).outgoing())
        .await
        .unwrap();
    assert_eq!(
        publishes(&recorder).len(),
        1,
        "without the check SNS takes it"
    );
}

#[tokio::test]
async fn sns_rejection_is_permanent_and_short() {
    let sender = SnsSender::new(sns_client(&Recorder::default()).await, None, None);
    // moto rejects texts over 1600 bytes with InvalidParameter, as SNS does.
    let err = sender
        .send(&TestText::new("+14255550182", &"x".repeat(1700), Category::Care).outgoing())
        .await
        .unwrap_err();
    match err {
        SendError::Permanent { message, .. } => assert_eq!(message, "sns: InvalidParameter"),
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
    let err = sender
        .send(&TestText::new("+14255550182", "hello", Category::Care).outgoing())
        .await
        .unwrap_err();
    match err {
        SendError::Retryable { message, .. } => assert_eq!(message, "sns: dispatch failure"),
        other => panic!("unexpected {other:?}"),
    }
}

/// A local endpoint answering every request with one canned HTTP response.
fn canned_endpoint(status: &str, body: &'static str) -> String {
    scripted_endpoint(vec![(status.to_string(), body)], true)
}

/// A local endpoint giving `answers` (status, XML body) to the requests in turn; with
/// `repeat_last`, every later request gets the last one.
fn scripted_endpoint(answers: Vec<(String, &'static str)>, repeat_last: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut answers = answers.into_iter().peekable();
        let mut last = None;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let (status, body) = match answers.next() {
                Some(answer) => {
                    last = Some(answer.clone());
                    answer
                }
                None if repeat_last => last.clone().unwrap(),
                None => (
                    "500 Internal Server Error".to_string(),
                    "unexpected request",
                ),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    url
}

/// An SNS sender (opt-out check off) whose every request gets `body` back with `status`.
async fn answered_with(status: &str, body: &'static str) -> SnsSender {
    let sdk = moto::sdk_config().await;
    let config = aws_sdk_sns::config::Builder::from(&sdk)
        .endpoint_url(canned_endpoint(status, body))
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    SnsSender::new(aws_sdk_sns::Client::from_conf(config), None, None).checking_opt_outs(false)
}

#[tokio::test]
async fn sns_opted_out_answer_is_recognised() {
    // An opted-out answer in SNS's query-protocol error XML (SNS documents none for
    // Publish, but other AWS SMS APIs answer so, and it must never be retried).
    let sender = answered_with(
        "400 Bad Request",
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>OptedOut</Code><Message>Phone number is opted out</Message></Error>
  <RequestId>9b3a2f1e-6c44-5a0e-b1f4-2d8e0c7a1b55</RequestId>
</ErrorResponse>"#,
    )
    .await;
    let err = sender
        .send(&TestText::new("+14255550182", "hello", Category::Marketing).outgoing())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::OptedOut { ref provider } if provider == "sns"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_invalid_phone_number_answer_is_an_invalid_number() {
    let sender = answered_with(
        "400 Bad Request",
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid parameter: PhoneNumber Reason: +14255550182 is not valid to publish to</Message></Error>
  <RequestId>2f0d7c1a-5b2e-5f57-9a61-7c1d6e0b9a44</RequestId>
</ErrorResponse>"#,
    )
    .await;
    let err = sender
        .send(&TestText::new("+14255550182", "hello", Category::Care).outgoing())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::InvalidNumber { .. }), "{err:?}");
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

/// SNS's opt-out list behind a scripted endpoint.
async fn opt_out_list_answering(answers: Vec<(&str, &'static str)>) -> SnsOptOutList {
    let sdk = moto::sdk_config().await;
    let answers = answers
        .into_iter()
        .map(|(s, b)| (s.to_string(), b))
        .collect();
    let config = aws_sdk_sns::config::Builder::from(&sdk)
        .endpoint_url(scripted_endpoint(answers, false))
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .build();
    SnsOptOutList::new(aws_sdk_sns::Client::from_conf(config))
}

const OPTED_OUT_ANSWER: &str = r#"<CheckIfPhoneNumberIsOptedOutResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <CheckIfPhoneNumberIsOptedOutResult><isOptedOut>true</isOptedOut></CheckIfPhoneNumberIsOptedOutResult>
  <ResponseMetadata><RequestId>4c61ac2e-0fa4-5a3b-9d1e-55b1c6f0e8a1</RequestId></ResponseMetadata>
</CheckIfPhoneNumberIsOptedOutResponse>"#;

#[tokio::test]
async fn sns_opt_in_asks_first_and_spends_no_opt_in_on_a_number_it_does_not_list() {
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    let list = opt_out_list_answering(vec![(
        "200 OK",
        r#"<CheckIfPhoneNumberIsOptedOutResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <CheckIfPhoneNumberIsOptedOutResult><isOptedOut>false</isOptedOut></CheckIfPhoneNumberIsOptedOutResult>
  <ResponseMetadata><RequestId>1f0c3a52-8e6b-5d7e-a4b2-0c9d8e7f6a51</RequestId></ResponseMetadata>
</CheckIfPhoneNumberIsOptedOutResponse>"#,
    )])
    .await;
    // A second request would get a 500: there is none.
    assert_eq!(
        list.opt_in(&phone).await.unwrap(),
        ProviderOptIn::NotOptedOut
    );
}

#[tokio::test]
async fn sns_refusing_an_opt_in_within_30_days_keeps_the_number_listed() {
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    let list = opt_out_list_answering(vec![
        ("200 OK", OPTED_OUT_ANSWER),
        (
            "400 Bad Request",
            r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid parameter: Phone number was opted in less than 30 days ago</Message></Error>
  <RequestId>7d2e9b40-3c1f-5a6d-8e0b-4f1a2c3d5e67</RequestId>
</ErrorResponse>"#,
        ),
    ])
    .await;
    match list.opt_in(&phone).await.unwrap() {
        ProviderOptIn::Refused { reason } => {
            assert!(reason.contains("InvalidParameter"), "{reason}");
            assert!(reason.contains("30 days"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_throttled_opt_in_is_a_retryable_error_not_a_refusal() {
    let phone = PhoneNumber::parse("+14255550182", None).unwrap();
    let list = opt_out_list_answering(vec![
        ("200 OK", OPTED_OUT_ANSWER),
        (
            "429 Too Many Requests",
            r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>Throttled</Code><Message>Throttled request</Message></Error>
  <RequestId>0a9b8c7d-6e5f-5a4b-9c3d-2e1f0a9b8c7d</RequestId>
</ErrorResponse>"#,
        ),
    ])
    .await;
    let err = list.opt_in(&phone).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn sns_opt_in_on_moto_takes_a_listed_number_off_the_list() {
    // +447420505401 is on moto's opt-out list from the start.
    let sdk = moto::sdk_config().await;
    let list = SnsOptOutList::new(aws_sdk_sns::Client::new(&sdk));
    let phone = PhoneNumber::parse("+447420505401", None).unwrap();
    assert_eq!(list.opt_in(&phone).await.unwrap(), ProviderOptIn::OptedIn);
    assert_eq!(
        list.opt_in(&phone).await.unwrap(),
        ProviderOptIn::NotOptedOut
    );
}

#[tokio::test]
async fn tencent_accounts_come_from_one_secret_and_cover_every_tenant() {
    let sdk = moto::sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = moto::unique_name("nudge-tencent-accounts");
    let accounts = r#"{"acme": {"secret_id": "AKIDacme", "secret_key": "acme-key", "sms_sdk_app_id": "1400006666", "sign_name": "阿克米"}}"#;
    secrets
        .create_secret()
        .name(&name)
        .secret_string(accounts)
        .send()
        .await
        .unwrap();
    let book = |tenant: &str| {
        nudge_core::rulebook::parse(
            &format!(
                "tenant: {tenant}\nbrand: ACME\ntimezone: UTC\nrules:\n  - id: notice\n    category: transactional\n    trigger: {{event: order.paid}}\n    template: \"Paid.\"\n    gateway_template: {{id: \"1\", params: []}}\n"
            ),
            "r.yaml",
        )
        .unwrap()
    };
    let senders = nudge_send::tencent_senders(&sdk, &name, &[&book("acme")])
        .await
        .unwrap();
    assert!(senders.has(&TenantId::parse("acme").unwrap()));

    let err = nudge_send::tencent_senders(&sdk, &name, &[&book("acme"), &book("fresh")])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no Tencent account for tenant fresh"), "{err}");
    let err = nudge_send::tencent_senders(&sdk, "nudge-no-such-secret", &[&book("acme")])
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable(),
        "a missing secret is a configuration to fix: {err}"
    );
    assert!(err.to_string().contains("secretsmanager"), "{err}");
}
