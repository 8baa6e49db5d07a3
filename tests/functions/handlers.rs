//! The Lambda handlers on the embedded store, driven by the sample events in `infra/events/`
//! (the same files `sam local invoke` uses).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use async_trait::async_trait;
use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::domain::{
    Category, CustomerId, Message, MessageId, MessageStatus, PhoneNumber, TenantId,
};
use nudge_core::ports::{
    CounterStore, Counters, CustomerStore, MessageStore, OutgoingText, SendError, Sent, SmsSender,
    SuppressionList,
};
use nudge_core::service::{CustomerInput, Engine, Outbox};
use nudge_core::{rulebook, Error};
use nudge_evaluate::handle_schedule;
use nudge_inbound::handle_sns;
use nudge_local::console::ConsolePublisher;
use nudge_send::{handle_stream, SendBudget};
use nudge_sqlite::SqliteStore;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
attributes: [name, plan, trial_started_at]
policy:
  window: {start: "09:00", end: "20:00"}
  opt_out_footer: "回复TD退订"
rules:
  - id: trial-day-7
    category: care
    trigger: {date: trial_started_at, offset: 7d, at: "10:00"}
    when: customer.plan == "trial"
    template: "{{name}}您好，试用已满7天，有问题回复1预约演示。"
"#;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra/events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// What the provider answers for a number: accept, throttle, fail in our own I/O, or never
/// answer (the invocation times out while the provider has the text).
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Accept,
    Throttle,
    LocalFailure,
    Hang,
}

/// An SMS sender recording every accepted text, answering per number as told.
#[derive(Default)]
struct Provider {
    sent: Mutex<Vec<(String, String, Category)>>,
    answers: Mutex<Vec<(String, Answer)>>,
}

impl Provider {
    fn answer(&self, phone: &str, answer: Answer) {
        self.answers
            .lock()
            .unwrap()
            .push((phone.to_string(), answer));
    }

    fn sent(&self) -> Vec<(String, String, Category)> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl SmsSender for Provider {
    async fn send(&self, outgoing: &OutgoingText<'_>) -> std::result::Result<Sent, SendError> {
        let (to, text, category) = (outgoing.to, outgoing.text, outgoing.category);
        let answer = self
            .answers
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(phone, _)| phone == to.as_str())
            .map(|(_, a)| *a)
            .unwrap_or(Answer::Accept);
        match answer {
            Answer::Accept => {
                let mut sent = self.sent.lock().unwrap();
                sent.push((to.as_str().to_string(), text.to_string(), category));
                Ok(Sent {
                    provider: "sns",
                    provider_id: format!("sns-{}", sent.len()),
                })
            }
            Answer::Throttle => Err(SendError::retryable("sns: Throttling")),
            Answer::LocalFailure => Err(SendError::Local(Error::Store("connection reset".into()))),
            Answer::Hang => std::future::pending().await,
        }
    }
}

use captured::Captured;
use nudge_tests::captured;

struct Harness {
    engine: Arc<Engine<SqliteStore>>,
    clock: Arc<ManualClock>,
    outbox: Outbox<SqliteStore>,
    provider: Arc<Provider>,
    events: Captured,
    tenant: TenantId,
}

fn harness(start: DateTime<Utc>) -> Harness {
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let engine = Arc::new(Engine::new(store, clock.clone(), vec![book]));
    let provider = Arc::new(Provider::default());
    let events = Captured::default();
    let outbox = Outbox::new(
        engine.clone(),
        provider.clone(),
        Arc::new(ConsolePublisher::new(Box::new(events.clone()))),
    );
    Harness {
        engine,
        clock,
        outbox,
        provider,
        events,
        tenant: TenantId::parse("acme").unwrap(),
    }
}

impl Harness {
    /// Queues the messages of the stream fixture in the store, as the evaluate tick would.
    async fn queue_fixture_messages(&self, event: &Value) -> Vec<Message> {
        let mut messages = Vec::new();
        for record in event["Records"].as_array().unwrap() {
            let body = record["dynamodb"]["NewImage"]["body"]["S"]
                .as_str()
                .unwrap();
            let message: Message = serde_json::from_str(body).unwrap();
            self.engine
                .store()
                .queue_message(&message, &Counters::new())
                .await
                .unwrap();
            messages.push(message);
        }
        messages
    }

    async fn status(&self, id: &str) -> Message {
        self.engine
            .store()
            .get_message(&self.tenant, &MessageId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    async fn stream(&self, event: &Value) -> Vec<String> {
        let event: StreamEvent = serde_json::from_value(event.clone()).unwrap();
        let response = handle_stream(&self.outbox, &SendBudget::unlimited(), event).await;
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier.unwrap())
            .collect()
    }
}

fn sequence_number(event: &Value, i: usize) -> String {
    event["Records"][i]["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn sample_events_have_the_real_shapes() {
    let schedule: EventBridgeEvent<Value> =
        serde_json::from_value(fixture("schedule.json")).unwrap();
    assert_eq!(schedule.detail_type, "Scheduled Event");
    assert_eq!(schedule.source, "aws.events");

    let stream: StreamEvent = serde_json::from_value(fixture("dynamodb-stream.json")).unwrap();
    assert_eq!(stream.records.len(), 3);
    for record in &stream.records {
        assert_eq!(record.event_name, "INSERT");
        assert!(record.change.sequence_number.is_some());
        let image = serde_json::to_value(&record.change.new_image).unwrap();
        assert_eq!(image["kind"]["S"], "message");
        assert_eq!(image["status"]["S"], "queued");
        let message: Message = serde_json::from_str(image["body"]["S"].as_str().unwrap()).unwrap();
        assert_eq!(message.status, MessageStatus::Queued);
        assert!(image["SK"]["S"]
            .as_str()
            .unwrap()
            .ends_with(message.id.as_str()));
    }

    let sns: SnsEvent = serde_json::from_value(fixture("sns-inbound-sms.json")).unwrap();
    let inbound: Value = serde_json::from_str(&sns.records[0].sns.message).unwrap();
    for key in [
        "originationNumber",
        "destinationNumber",
        "messageBody",
        "inboundMessageId",
        "previousPublishedMessageId",
    ] {
        assert!(inbound[key].is_string(), "{key}");
    }
}

#[tokio::test]
async fn a_stream_batch_sends_each_message_once_even_when_redelivered() {
    let h = harness(at(2026, 3, 9, 2, 0, 5));
    let event = fixture("dynamodb-stream.json");
    let messages = h.queue_fixture_messages(&event).await;

    assert!(h.stream(&event).await.is_empty());
    let sent = h.provider.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].0, "+8613800138000");
    assert_eq!(sent[0].1, "【阿克米】王芳您好，订单A100已付款。");
    assert_eq!(sent[0].2, Category::Transactional);
    assert_eq!(sent[1].2, Category::Care);
    for message in &messages {
        let stored = h.status(message.id.as_str()).await;
        assert_eq!(stored.status, MessageStatus::Sent);
        assert!(stored.provider_id.is_some());
    }

    // Lambda delivers the same batch again (a timeout after the sends, a bisect…).
    assert!(h.stream(&event).await.is_empty());
    assert_eq!(h.provider.sent().len(), 3, "nothing sent twice");
    assert_eq!(h.events.count("message.sent"), 3);
}

#[tokio::test]
async fn malformed_records_are_skipped_and_reported() {
    let h = harness(at(2026, 3, 9, 2, 0, 5));
    let mut event = fixture("dynamodb-stream.json");
    h.queue_fixture_messages(&event).await;
    let records = event["Records"].as_array_mut().unwrap();
    // A message item whose body is not JSON.
    records[0]["dynamodb"]["NewImage"]["body"]["S"] = json!("{not json");
    // A message item whose body is JSON but not a message: its id is readable.
    records[1]["dynamodb"]["NewImage"]["body"]["S"] =
        json!(r#"{"tenant":"acme","id":"m_8e7d6c5b4a39281706f5e4d3","text":42}"#);
    // Not a message item at all, and a message item without a body.
    let mut other = records[2].clone();
    other["dynamodb"]["NewImage"]["kind"]["S"] = json!("customer");
    let mut bodiless = records[2].clone();
    bodiless["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("body");
    records.insert(0, other);
    records.insert(0, bodiless);

    let failures = h.stream(&event).await;
    assert!(
        failures.is_empty(),
        "malformed records do not block the shard"
    );
    let sent = h.provider.sent();
    assert_eq!(sent.len(), 1, "only the well-formed record is sent");
    assert_eq!(sent[0].0, "+14255550182");
    let failed: Vec<Value> = h
        .events
        .lines()
        .into_iter()
        .filter(|e| e["detail_type"] == "message.failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["tenant"], "acme");
    assert_eq!(
        failed[0]["detail"]["message_id"],
        "m_8e7d6c5b4a39281706f5e4d3"
    );
    assert_eq!(failed[0]["detail"]["reason"], "malformed_record");
}

#[tokio::test]
async fn a_retryable_failure_fails_exactly_its_record() {
    let h = harness(at(2026, 3, 9, 2, 0, 5));
    let event = fixture("dynamodb-stream.json");
    h.queue_fixture_messages(&event).await;
    h.provider.answer("+8613900139000", Answer::LocalFailure);

    let failures = h.stream(&event).await;
    assert_eq!(failures, vec![sequence_number(&event, 1)]);
    assert_eq!(h.provider.sent().len(), 2);
    let failed = h.status("m_8e7d6c5b4a39281706f5e4d3").await;
    assert_eq!(
        failed.status,
        MessageStatus::Queued,
        "the claim is put back"
    );

    // Lambda redelivers from the failed record on; now the provider is reachable.
    h.provider.answer("+8613900139000", Answer::Accept);
    h.clock.advance(TimeDelta::minutes(5));
    let mut redelivery = event.clone();
    redelivery["Records"].as_array_mut().unwrap().remove(0);
    assert!(h.stream(&redelivery).await.is_empty());
    let sent = h.provider.sent();
    assert_eq!(sent.len(), 3, "the failed one sent, the others not again");
    assert_eq!(sent[2].0, "+8613900139000");
}

#[tokio::test]
async fn throttled_sends_back_off_and_are_retried_by_the_schedule_sweep() {
    let h = harness(at(2026, 3, 9, 2, 0, 5));
    let event = fixture("dynamodb-stream.json");
    h.queue_fixture_messages(&event).await;
    h.provider.answer("+8613800138000", Answer::Throttle);

    // The outbox requeues with backoff: not a batch failure (that would retry at once).
    assert!(h.stream(&event).await.is_empty());
    let throttled = h.status("m_3f9a1c2b7d4e5f6a7b8c9d0e").await;
    assert_eq!(throttled.status, MessageStatus::Queued);
    assert_eq!(throttled.attempts, 1);
    let retry_at = throttled.next_attempt_at.unwrap();
    assert!(retry_at > h.engine.now());

    // A stale image arrives (the INSERT image — 0 attempts, no backoff — as a MODIFY, as a
    // redelivered batch would bring it): the claim holds only for the stored version, so it
    // does not skip the backoff.
    h.provider.answer("+8613800138000", Answer::Accept);
    let mut modify = event.clone();
    modify["Records"].as_array_mut().unwrap().truncate(1);
    modify["Records"][0]["eventName"] = json!("MODIFY");
    assert!(h.stream(&modify).await.is_empty());
    assert_eq!(h.provider.sent().len(), 2);
    // The requeue's own image (1 attempt, backoff pending) is left to the sweep as well.
    modify["Records"][0]["dynamodb"]["NewImage"]["body"]["S"] =
        json!(serde_json::to_string(&throttled).unwrap());
    assert!(h.stream(&modify).await.is_empty());
    assert_eq!(h.provider.sent().len(), 2);
    assert_eq!(h.status("m_3f9a1c2b7d4e5f6a7b8c9d0e").await, throttled);

    // The schedule's sweep sends it once the backoff elapsed, within the budget.
    let schedule: EventBridgeEvent<Value> =
        serde_json::from_value(fixture("schedule.json")).unwrap();
    let budget = SendBudget::new(10);
    h.clock.set(retry_at + TimeDelta::seconds(1));
    let summary = handle_schedule(&h.engine, Some((&h.outbox, &budget)), schedule)
        .await
        .unwrap();
    let sweep = summary.sweep.unwrap();
    assert_eq!((sweep.attempted, sweep.sent), (1, 1));
    let sent = h.provider.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].0, "+8613800138000");
    assert_eq!(
        h.status("m_3f9a1c2b7d4e5f6a7b8c9d0e").await.status,
        MessageStatus::Sent
    );
}

#[tokio::test]
async fn texts_held_by_a_send_that_timed_out_are_settled_by_the_sweep() {
    let h = harness(at(2026, 3, 9, 2, 0, 5));
    let event = fixture("dynamodb-stream.json");
    h.queue_fixture_messages(&event).await;
    let records = |i: usize| {
        let mut one = event.clone();
        let record = one["Records"][i].clone();
        one["Records"] = json!([record]);
        one
    };
    // Two invocations time out while the provider has the text: a transactional one and a
    // care one. (Lambda stops an invocation at its timeout; the future is dropped here.)
    h.provider.answer("+8613800138000", Answer::Hang);
    h.provider.answer("+8613900139000", Answer::Hang);
    for i in [0, 1] {
        let timed_out =
            tokio::time::timeout(std::time::Duration::from_millis(200), h.stream(&records(i)))
                .await;
        assert!(timed_out.is_err(), "the provider never answered");
    }
    // A third sender was killed right after its claim, before it called the provider.
    let mut claimed = h.status("m_0a1b2c3d4e5f60718293a4b5").await;
    claimed.status = MessageStatus::Sending;
    claimed.attempts = 1;
    claimed.lease_until = Some(h.engine.now() + TimeDelta::minutes(5));
    assert_eq!(
        h.engine.store().claim_message(&claimed).await.unwrap(),
        nudge_core::ports::Claim::Claimed
    );
    for id in ["m_3f9a1c2b7d4e5f6a7b8c9d0e", "m_8e7d6c5b4a39281706f5e4d3"] {
        assert_eq!(h.status(id).await.status, MessageStatus::Dispatched);
    }

    h.provider.answer("+8613800138000", Answer::Accept);
    h.provider.answer("+8613900139000", Answer::Accept);
    let schedule =
        || -> EventBridgeEvent<Value> { serde_json::from_value(fixture("schedule.json")).unwrap() };
    let budget = SendBudget::unlimited();
    // Within the leases nothing is touched: the senders may still be working.
    h.clock.advance(TimeDelta::minutes(4));
    let early = handle_schedule(&h.engine, Some((&h.outbox, &budget)), schedule())
        .await
        .unwrap();
    assert_eq!(early.sweep.unwrap(), Default::default());
    assert!(h.provider.sent().is_empty());

    h.clock.advance(TimeDelta::minutes(2));
    let summary = handle_schedule(&h.engine, Some((&h.outbox, &budget)), schedule())
        .await
        .unwrap();
    let as_json = serde_json::to_value(&summary).unwrap();
    assert_eq!(
        as_json["sweep"],
        json!({"leases": {"requeued": 1, "resent": 1, "unknown": 1, "lost": 0},
               "attempted": 2, "sent": 2})
    );
    // The transactional text is sent again (it may arrive twice); the care text is not (it
    // may never arrive); the one that never reached the provider is simply sent.
    let mut phones: Vec<String> = h.provider.sent().into_iter().map(|s| s.0).collect();
    phones.sort();
    assert_eq!(phones, ["+14255550182", "+8613800138000"]);
    assert_eq!(
        h.status("m_3f9a1c2b7d4e5f6a7b8c9d0e").await.status,
        MessageStatus::Sent
    );
    let unknown = h.status("m_8e7d6c5b4a39281706f5e4d3").await;
    assert_eq!(unknown.status, MessageStatus::Unknown);
    assert_eq!(unknown.lease_until, None);
    assert_eq!(
        h.status("m_0a1b2c3d4e5f60718293a4b5").await.status,
        MessageStatus::Sent
    );
    let announced: Vec<(String, String)> = h
        .events
        .lines()
        .into_iter()
        .filter(|e| e["detail_type"] == "message.unknown")
        .map(|e| {
            (
                e["detail"]["message_id"].as_str().unwrap().to_string(),
                e["detail"]["resolution"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        announced,
        [
            (
                "m_3f9a1c2b7d4e5f6a7b8c9d0e".to_string(),
                "resent".to_string()
            ),
            (
                "m_8e7d6c5b4a39281706f5e4d3".to_string(),
                "recorded".to_string()
            )
        ]
    );
    let day = h.engine.now().date_naive();
    let mut totals = Counters::new();
    for row in h.engine.store().stats(&h.tenant, day, day).await.unwrap() {
        for (name, n) in row.counters {
            *totals.entry(name).or_default() += n;
        }
    }
    for (name, n) in [
        ("resent_unknown", 1),
        ("unknown", 1),
        ("lease_requeued", 1),
        ("sent", 2),
    ] {
        assert_eq!(totals.get(name), Some(&n), "{name}");
    }

    // Settled once: the next sweep finds nothing held.
    let again = handle_schedule(&h.engine, Some((&h.outbox, &budget)), schedule())
        .await
        .unwrap();
    assert_eq!(again.sweep.unwrap(), Default::default());
}

#[tokio::test]
async fn a_transactional_text_is_resent_only_while_attempts_remain() {
    let h = harness(at(2026, 3, 9, 2, 0, 5));
    let event = fixture("dynamodb-stream.json");
    h.queue_fixture_messages(&event).await;
    // Its fifth and last attempt was handed to the provider, and the sender died.
    let queued = h.status("m_3f9a1c2b7d4e5f6a7b8c9d0e").await;
    let mut last = queued.clone();
    last.attempts = 4;
    assert!(h
        .engine
        .store()
        .transition_message(&last, nudge_core::ports::MessageState::of(&queued))
        .await
        .unwrap());
    let mut held = last.clone();
    held.status = MessageStatus::Sending;
    held.attempts = 5;
    held.lease_until = Some(h.engine.now() + TimeDelta::minutes(5));
    assert_eq!(
        h.engine.store().claim_message(&held).await.unwrap(),
        nudge_core::ports::Claim::Claimed
    );
    let mut dispatched = held.clone();
    dispatched.status = MessageStatus::Dispatched;
    assert!(h
        .engine
        .store()
        .transition_message(&dispatched, nudge_core::ports::MessageState::of(&held))
        .await
        .unwrap());
    h.clock.advance(TimeDelta::minutes(6));
    let report = h.outbox.reconcile_leases(10).await.unwrap();
    assert_eq!((report.resent, report.unknown), (0, 1));
    assert_eq!(
        h.status("m_3f9a1c2b7d4e5f6a7b8c9d0e").await.status,
        MessageStatus::Unknown
    );
}

#[tokio::test]
async fn the_schedule_ticks_and_summarises_decisions() {
    let h = harness(at(2026, 3, 9, 1, 0, 0));
    let customer: CustomerInput = serde_json::from_value(json!({
        "id": "c-1002", "phone": "13900139000",
        "attributes": {"name": "李雷", "plan": "trial", "trial_started_at": "2026-03-02"}
    }))
    .unwrap();
    h.engine.upsert_customer(&h.tenant, customer).await.unwrap();
    let schedule =
        || -> EventBridgeEvent<Value> { serde_json::from_value(fixture("schedule.json")).unwrap() };
    let first = handle_schedule(&h.engine, None, schedule()).await.unwrap();
    assert_eq!(first.minutes, 1);
    assert!(first.decisions.is_empty());

    // 10:00 in Shanghai: the trial-day-7 text is decided (queued for the stream).
    h.clock.set(at(2026, 3, 9, 2, 0, 10));
    let budget = SendBudget::unlimited();
    let summary = handle_schedule(&h.engine, Some((&h.outbox, &budget)), schedule())
        .await
        .unwrap();
    assert_eq!(summary.minutes, 60);
    assert_eq!(summary.decisions.get("send"), Some(&1));
    assert!(!summary.behind);
    let sweep = summary.sweep.clone().unwrap();
    assert_eq!(sweep.attempted, 0, "fresh first attempts are the stream's");
    assert!(h.provider.sent().is_empty());
    let as_json = serde_json::to_value(&summary).unwrap();
    assert_eq!(
        as_json,
        json!({"minutes": 60, "decisions": {"send": 1}, "behind": false,
               "sweep": {"attempted": 0, "sent": 0}})
    );

    // A first attempt the stream never delivered is swept after a while.
    h.clock.advance(TimeDelta::minutes(6));
    let later = handle_schedule(&h.engine, Some((&h.outbox, &budget)), schedule())
        .await
        .unwrap();
    assert_eq!(later.sweep.unwrap().sent, 1);
    assert_eq!(h.provider.sent()[0].0, "+8613900139000");
}

/// The sample SNS notification with its End User Messaging `Message` fields replaced.
fn sns_reply(fields: Value) -> SnsEvent {
    let mut event = fixture("sns-inbound-sms.json");
    let mut message: Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    for (key, value) in fields.as_object().unwrap() {
        message[key] = value.clone();
    }
    event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    serde_json::from_value(event).unwrap()
}

/// An SNS notification whose `Message` is exactly `raw`.
fn sns_raw(raw: &str) -> SnsEvent {
    let mut event = fixture("sns-inbound-sms.json");
    event["Records"][0]["Sns"]["Message"] = json!(raw);
    serde_json::from_value(event).unwrap()
}

impl Harness {
    async fn customer(&self, id: &str, phone: &str) {
        let customer: CustomerInput = serde_json::from_value(json!({
            "id": id, "phone": phone,
            "attributes": {"name": "李雷", "plan": "trial", "trial_started_at": "2026-03-02"}
        }))
        .unwrap();
        self.engine
            .upsert_customer(&self.tenant, customer)
            .await
            .unwrap();
    }

    async fn inbound(&self, event: SnsEvent) -> Value {
        let publisher = ConsolePublisher::new(Box::new(self.events.clone()));
        let summary = handle_sns(&self.engine, &publisher, event).await.unwrap();
        serde_json::to_value(summary).unwrap()["actions"].clone()
    }

    async fn opted_out(&self, phone: &str) -> bool {
        let phone = PhoneNumber::parse(phone, None).unwrap();
        self.engine
            .store()
            .is_suppressed(&self.tenant, &phone)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_sample_reply_opts_out_once_however_often_sns_delivers_it() {
    let h = harness(at(2026, 3, 9, 2, 5, 0));
    h.customer("c-1001", "13800138000").await;
    let sample =
        || -> SnsEvent { serde_json::from_value(fixture("sns-inbound-sms.json")).unwrap() };
    assert_eq!(h.inbound(sample()).await, json!({"opted_out": 1}));
    assert!(h.opted_out("+8613800138000").await);
    // SNS delivers at least once: the same inbound message id again is a duplicate.
    assert_eq!(h.inbound(sample()).await, json!({"duplicate": 1}));
    let outbox = h.outbox.send_due(10).await.unwrap();
    assert_eq!(outbox.sent, 1, "one confirmation");
    let sent = h.provider.sent();
    assert_eq!(sent[0].0, "+8613800138000");
    assert!(sent[0].1.contains("退订"), "{}", sent[0].1);
    assert_eq!(h.events.count("customer.opted_out"), 1);
}

#[tokio::test]
async fn opt_out_spellings_from_the_handset_all_opt_out() {
    for (n, body) in [
        "ＴＤ",
        "td ",
        "退订。",
        "Stop!",
        "STOPALL",
        "退 订",
        "TD😊",
        " t ",
        "Unsubscribe",
    ]
    .into_iter()
    .enumerate()
    {
        let h = harness(at(2026, 3, 9, 2, 5, 0));
        h.customer("c-1001", "13800138000").await;
        let event = sns_reply(json!({"messageBody": body, "inboundMessageId": format!("in-{n}")}));
        assert_eq!(h.inbound(event).await, json!({"opted_out": 1}), "{body:?}");
        assert!(h.opted_out("+8613800138000").await, "{body:?}");
    }
}

#[tokio::test]
async fn out_of_order_deliveries_act_in_arrival_order_once_each() {
    let h = harness(at(2026, 3, 9, 2, 5, 0));
    h.customer("c-1001", "13800138000").await;
    // The customer sent TD, then START; SNS delivers START first, then TD, then START again.
    let td = || sns_reply(json!({"messageBody": "TD", "inboundMessageId": "in-a"}));
    let start = || sns_reply(json!({"messageBody": "START", "inboundMessageId": "in-b"}));
    assert_eq!(h.inbound(start()).await, json!({"opted_in": 1}));
    assert!(!h.opted_out("+8613800138000").await);
    assert_eq!(h.inbound(td()).await, json!({"opted_out": 1}));
    assert_eq!(h.inbound(start()).await, json!({"duplicate": 1}));
    assert_eq!(h.inbound(td()).await, json!({"duplicate": 1}));
    // The redelivered START is not applied a second time: the number stays opted out.
    assert!(h.opted_out("+8613800138000").await);
}

#[tokio::test]
async fn bad_notifications_are_rejected_without_failing_or_changing_the_store() {
    let h = harness(at(2026, 3, 9, 2, 5, 0));
    h.customer("c-1001", "13800138000").await;
    let before = h
        .engine
        .store()
        .get_customer(&h.tenant, &CustomerId::parse("c-1001").unwrap())
        .await
        .unwrap()
        .unwrap();
    let cases = [
        sns_raw("TD"),
        sns_raw("{\"originationNumber\": \"+8613800138000\"}"),
        sns_raw(""),
        sns_reply(json!({"inboundMessageId": ""})),
        sns_reply(json!({"originationNumber": "not a number", "inboundMessageId": "in-1"})),
        sns_reply(json!({"messageBody": "TD".repeat(2_500), "inboundMessageId": "in-2"})),
        sns_reply(json!({"messageBody": 42, "inboundMessageId": "in-3"})),
    ];
    for (n, event) in cases.into_iter().enumerate() {
        assert_eq!(h.inbound(event).await, json!({"rejected": 1}), "case {n}");
    }
    // Control characters are not an error: they are stripped and the rest is read.
    let bell =
        sns_reply(json!({"messageBody": "\u{7}\u{0}hello\u{1b}", "inboundMessageId": "in-4"}));
    assert_eq!(h.inbound(bell).await, json!({"free_text": 1}));
    let after = h
        .engine
        .store()
        .get_customer(&h.tenant, &CustomerId::parse("c-1001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.consent, before.consent);
    assert!(!h.opted_out("+8613800138000").await);
}

/// Generated SNS notifications (the sample's `Message` with nasty field values, fields left
/// out, random JSON and random text): the handler always answers, counts each one under
/// exactly one action, and fails the invocation for none of them (nothing in them can pass
/// on a retry). A fixed number of cases; `PROPTEST_CASES` raises it.
#[test]
fn generated_sns_notifications_are_handled_or_rejected_never_failed() {
    use proptest::prelude::*;
    let config = nudge_tests::generated_cases(1000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = harness(at(2026, 3, 9, 2, 5, 0));
    rt.block_on(h.customer("c-1001", "13800138000"));
    let text = || {
        prop_oneof![
            3 => prop::sample::select(vec![
                "+8613800138000", "13800138000", "+12065550142", "TD", "退订", "ＴＤ。",
                "START", "HELP", "1", "", " ", "in-1",
            ])
            .prop_map(str::to_string),
            2 => any::<String>(),
        ]
    };
    let field =
        |name: &'static str| prop::option::weighted(0.85, text()).prop_map(move |v| (name, v));
    let shaped = (
        field("originationNumber"),
        field("destinationNumber"),
        field("messageBody"),
        field("inboundMessageId"),
        field("previousPublishedMessageId"),
    )
        .prop_map(|fields| {
            let [a, b, c, d, e] = [fields.0, fields.1, fields.2, fields.3, fields.4];
            let object: serde_json::Map<String, Value> = [a, b, c, d, e]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), json!(v?))))
                .collect();
            Value::Object(object).to_string()
        });
    let message = prop_oneof![
        4 => shaped,
        1 => any::<String>(),
        1 => Just("null".to_string()),
        1 => Just(r#"{"originationNumber": 1}"#.to_string()),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(&message, |message| {
            rt.block_on(async {
                let publisher = ConsolePublisher::discard();
                let handled = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    handle_sns(&h.engine, &publisher, sns_raw(&message)),
                )
                .await;
                let summary = handled
                    .map_err(|_| TestCaseError::fail(format!("{message}: no answer")))?
                    .map_err(|e| TestCaseError::fail(format!("{message}: {e}")))?;
                prop_assert_eq!(summary.actions.values().sum::<u32>(), 1, "{}", message);
                Ok(())
            })
        })
        .unwrap();
}

/// The receipts handler on CloudWatch Logs' own subscription event sample (from AWS's
/// documentation, as aws-lambda-rust-runtime ships it): log lines that are not SNS delivery
/// records are read, skipped and reported, never an error to retry; a CONTROL_MESSAGE (the
/// health check CloudWatch Logs sends a new destination) carries nothing.
#[tokio::test]
async fn the_receipts_handler_reads_real_subscription_events_and_skips_foreign_lines() {
    use aws_lambda_events::cloudwatch_logs::LogsEvent;
    use nudge_core::service::Receipts;
    use nudge_receipts::{handle_logs, LogsReport};

    let h = harness(Utc.with_ymd_and_hms(2026, 3, 9, 2, 0, 0).unwrap());
    let receipts = Receipts::new(h.engine.clone(), Arc::new(ConsolePublisher::discard()));
    let wire = fixture("cloudwatch-logs-subscription.json").to_string();
    let sample: LogsEvent = serde_json::from_str(&wire).unwrap();
    let lines = sample.aws_logs.data.log_events.len() as u32;
    assert!(lines > 0);
    let report = handle_logs(&receipts, sample).await.unwrap();
    assert_eq!((report.unreadable, report.receipts.recorded), (lines, 0));

    let control = nudge_tests::logs::encode(&json!({
        "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs",
        "logGroup": "", "logStream": "", "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1_440_442_987_001_i64,
                       "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda."}]
    }));
    let event: LogsEvent = serde_json::from_str(&control.to_string()).unwrap();
    let report = handle_logs(&receipts, event).await.unwrap();
    assert_eq!(report, LogsReport::default());
}

/// EUM's message ids in `sqs-eum-events.json`: the first text's delivered event, the second's
/// blocked one.
const EUM_DELIVERED_ID: &str = "a1b2c3d4-0000-4000-8000-00000000e001";
const EUM_BLOCKED_ID: &str = "a1b2c3d4-0000-4000-8000-00000000e002";

/// An EUM stand-in: accepts each text with the next of its message ids.
struct EumIds(Mutex<Vec<&'static str>>);

#[async_trait]
impl SmsSender for EumIds {
    async fn send(&self, _: &OutgoingText<'_>) -> std::result::Result<Sent, SendError> {
        let mut ids = self.0.lock().unwrap();
        Ok(Sent {
            provider: "eum",
            provider_id: ids.remove(0).to_string(),
        })
    }
}

/// A deployment whose three stream-fixture texts went out through EUM, on a SQLite file
/// (so a test can break the store under the handler).
struct EumDeployment {
    engine: Arc<Engine<SqliteStore>>,
    receipts: nudge_core::service::Receipts<SqliteStore>,
    messages: Vec<Message>,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn eum_deployment() -> EumDeployment {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nudge.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let clock = Arc::new(ManualClock::new(at(2026, 3, 9, 2, 0, 5)));
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let engine = Arc::new(Engine::new(store, clock, vec![book]));
    let sender = EumIds(Mutex::new(vec![
        EUM_DELIVERED_ID,
        EUM_BLOCKED_ID,
        "a1b2c3d4-0000-4000-8000-00000000e003",
    ]));
    let publisher = Arc::new(ConsolePublisher::discard());
    let outbox = Outbox::new(engine.clone(), Arc::new(sender), publisher.clone());
    let mut messages = Vec::new();
    for record in fixture("dynamodb-stream.json")["Records"]
        .as_array()
        .unwrap()
    {
        let body = record["dynamodb"]["NewImage"]["body"]["S"]
            .as_str()
            .unwrap();
        let message: Message = serde_json::from_str(body).unwrap();
        engine
            .store()
            .queue_message(&message, &Counters::new())
            .await
            .unwrap();
        assert!(outbox.send_message(message.clone()).await.unwrap());
        messages.push(message);
    }
    EumDeployment {
        receipts: nudge_core::service::Receipts::new(engine.clone(), publisher),
        engine,
        messages,
        db,
        _dir: dir,
    }
}

impl EumDeployment {
    async fn message(&self, n: usize) -> Message {
        let message = &self.messages[n];
        self.engine
            .store()
            .get_message(&message.tenant, &message.id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// The SQS fixture with its bodies replaced: one SNS notification per EUM event, in order.
fn sqs_eum_events(events: &[Value]) -> aws_lambda_events::sqs::SqsEvent {
    let mut sqs = fixture("sqs-eum-events.json");
    let template = sqs["Records"][0].clone();
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let mut record = template.clone();
            let mut notification: Value =
                serde_json::from_str(template["body"].as_str().unwrap()).unwrap();
            notification["Message"] = event.to_string().into();
            record["body"] = notification.to_string().into();
            record["messageId"] = format!("sqs-{i}").into();
            record
        })
        .collect();
    sqs["Records"] = records.into();
    serde_json::from_value(sqs).unwrap()
}

fn eum_event(name: &str, event_type: &str, is_final: bool) -> Value {
    let mut event = fixture(name);
    event["eventType"] = event_type.into();
    event["isFinal"] = is_final.into();
    event
}

/// The documented SNS → SQS envelope of EUM's events: a delivered and a blocked text settle
/// (price with the carrier fee, parts, carrier, EUM's words), the third text keeps waiting,
/// and the same batch delivered again changes nothing.
#[tokio::test]
async fn queued_eum_events_settle_their_texts_once() {
    use nudge_receipts::handle_sqs;
    let d = eum_deployment().await;
    let batch = || -> aws_lambda_events::sqs::SqsEvent {
        serde_json::from_value(fixture("sqs-eum-events.json")).unwrap()
    };

    let outcome = handle_sqs(&d.receipts, batch()).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(outcome.report.receipts.recorded, 2);
    assert_eq!((outcome.report.unreadable, outcome.report.not_yet), (0, 0));

    let delivered = d.message(0).await;
    assert_eq!(delivered.status, MessageStatus::Delivered);
    let report = delivered.delivery.unwrap();
    assert_eq!(report.parts, Some(2));
    assert_eq!(report.carrier.as_deref(), Some("T-Mobile"));
    assert_eq!(
        report.provider_status,
        "DELIVERED: Message has been accepted by phone"
    );
    assert_eq!(report.price_micro_usd(), Some(14_640));
    assert_eq!(
        report.at,
        at(2026, 3, 9, 10, 1, 2) + TimeDelta::milliseconds(118)
    );
    let blocked = d.message(1).await;
    assert_eq!(blocked.status, MessageStatus::Undelivered);
    assert_eq!(blocked.reason.as_deref(), Some("blocked"));
    assert_eq!(d.message(2).await.status, MessageStatus::Sent);

    let again = handle_sqs(&d.receipts, batch()).await;
    assert!(again.response.batch_item_failures.is_empty());
    assert_eq!(
        (
            again.report.receipts.recorded,
            again.report.receipts.already_settled
        ),
        (0, 2)
    );
    let mut counters = Counters::new();
    let (from, to) = (at(2026, 3, 1, 0, 0, 0), at(2026, 3, 31, 0, 0, 0));
    let tenant = &d.messages[0].tenant;
    let rows = d
        .engine
        .store()
        .stats(tenant, from.date_naive(), to.date_naive());
    for row in rows.await.unwrap() {
        for (name, n) in row.counters {
            *counters.entry(name).or_default() += n;
        }
    }
    assert_eq!(counters.get("delivered"), Some(&1));
    assert_eq!(counters.get("undelivered_blocked"), Some(&1));
}

/// Events arrive in any order: a step on the way after the final event (or before it) never
/// undoes or preempts it, and an unknown outcome settles nothing.
#[tokio::test]
async fn eum_events_out_of_order_settle_on_the_final_one_only() {
    use nudge_receipts::handle_sqs;
    let d = eum_deployment().await;
    let delivered = fixture("eum-sms-event-delivered.json");
    let queued = eum_event("eum-sms-event-delivered.json", "TEXT_QUEUED", false);
    let outcome = handle_sqs(&d.receipts, sqs_eum_events(&[delivered, queued])).await;
    assert_eq!(
        (outcome.report.receipts.recorded, outcome.report.not_yet),
        (1, 1)
    );
    assert_eq!(d.message(0).await.status, MessageStatus::Delivered);

    let pending = eum_event("eum-sms-event-blocked.json", "TEXT_PENDING", false);
    let unknown = eum_event("eum-sms-event-blocked.json", "TEXT_UNKNOWN", true);
    let outcome = handle_sqs(&d.receipts, sqs_eum_events(&[pending, unknown])).await;
    assert_eq!(
        (outcome.report.receipts.recorded, outcome.report.not_yet),
        (0, 2)
    );
    assert_eq!(d.message(1).await.status, MessageStatus::Sent);
    let blocked = fixture("eum-sms-event-blocked.json");
    let outcome = handle_sqs(&d.receipts, sqs_eum_events(&[blocked])).await;
    assert_eq!(outcome.report.receipts.recorded, 1);
    assert_eq!(d.message(1).await.status, MessageStatus::Undelivered);
}

/// A body that is no EUM event is skipped (retrying cannot help); a store that fails makes
/// exactly the messages it failed for batch item failures, for SQS to deliver again.
#[tokio::test]
async fn unreadable_bodies_are_skipped_and_store_failures_redelivered() {
    use nudge_receipts::handle_sqs;
    let d = eum_deployment().await;
    let mut batch: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-eum-events.json")).unwrap();
    let mut foreign = batch.records[0].clone();
    foreign.message_id = Some("foreign".into());
    foreign.body = Some(r#"{"Type":"Notification","Message":"hello"}"#.into());
    batch.records.push(foreign);

    // The store loses its messages table under the handler.
    rusqlite::Connection::open(&d.db)
        .unwrap()
        .execute_batch("ALTER TABLE messages RENAME TO messages_elsewhere")
        .unwrap();
    let outcome = handle_sqs(&d.receipts, batch.clone()).await;
    let failed: Vec<&str> = outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "059f36b4-87a3-44ab-83d2-661975830a7d",
            "2e1424d4-f796-459a-8184-9c92662be6da"
        ]
    );
    assert_eq!((outcome.report.failed, outcome.report.unreadable), (2, 1));

    // Once the store is back, the redelivered messages settle their texts.
    rusqlite::Connection::open(&d.db)
        .unwrap()
        .execute_batch("ALTER TABLE messages_elsewhere RENAME TO messages")
        .unwrap();
    let outcome = handle_sqs(&d.receipts, batch).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(outcome.report.receipts.recorded, 2);
}

/// One function, two sources: the real fixtures of each are told apart by shape, and the SQS
/// answer is the partial batch response Lambda reads.
#[tokio::test]
async fn the_receipts_function_serves_logs_and_queue_events_by_shape() {
    use nudge_receipts::{handle_event, ReceiptsEvent};
    let d = eum_deployment().await;
    assert!(matches!(
        ReceiptsEvent::from_payload(fixture("cloudwatch-logs-subscription.json")).unwrap(),
        ReceiptsEvent::Logs(_)
    ));
    assert!(matches!(
        ReceiptsEvent::from_payload(fixture("sqs-eum-events.json")).unwrap(),
        ReceiptsEvent::Sqs(_)
    ));
    for other in [
        fixture("sns-inbound-sms.json"),
        fixture("schedule.json"),
        json!({"Records": []}),
    ] {
        assert!(ReceiptsEvent::from_payload(other).is_err());
    }

    let answer = handle_event(&d.receipts, fixture("sqs-eum-events.json"))
        .await
        .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(d.message(0).await.status, MessageStatus::Delivered);
    let answer = handle_event(&d.receipts, fixture("cloudwatch-logs-subscription.json"))
        .await
        .unwrap();
    assert_eq!(answer["recorded"], 0);
    assert!(answer["unreadable"].as_u64().unwrap() > 0);
}
