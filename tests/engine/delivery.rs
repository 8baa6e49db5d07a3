//! A text's life after the decision: sent from the tenant's own number, then settled by its
//! delivery receipt (forward only, once), with the provider's refusals each handled their
//! own way (opted out, spend limit, invalid number).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::domain::{
    DeliveryOutcome, DeliveryReport, Message, MessageStatus, Origination, PhoneNumber, Receipt,
    TemplateRef, TenantId, UndeliveredReason,
};
use nudge_core::ports::{
    CounterStore, CustomerStore, MessageStore, OutgoingText, SendError, Sent, SmsSender,
    SuppressionList,
};
use nudge_core::rulebook;
use nudge_core::service::{
    CustomerInput, DeliverySummary, Engine, EventInput, Outbox, ReceiptApplied, Receipts,
};
use nudge_local::console::{ConsolePublisher, ConsoleSender, Format, ReceiptPlan};
use nudge_sqlite::SqliteStore;
use nudge_tests::captured::Captured;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const RULES: &str = r#"
tenant: acme
brand: ACME
timezone: UTC
locale: en-US
sender: {number: "+18335550100"}
rules:
  - id: thank-you
    category: transactional
    trigger: {event: order.paid}
    template: "Thanks, order {{event.properties.order_id}} is paid."
    gateway_template: {id: "2001", params: [event.properties.order_id]}
"#;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap()
}

/// A provider whose answers are scripted per call (then it accepts), recording what it got.
#[derive(Default)]
struct Scripted {
    answers: Mutex<Vec<fn() -> SendError>>,
    seen: Mutex<Vec<Seen>>,
}

/// What a sender was asked to send: to, from, as which gateway template.
type Seen = (String, Option<Origination>, Option<TemplateRef>);

#[async_trait::async_trait]
impl SmsSender for Scripted {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        self.seen.lock().unwrap().push((
            text.to.to_string(),
            text.origination.cloned(),
            text.template.cloned(),
        ));
        let mut answers = self.answers.lock().unwrap();
        if !answers.is_empty() {
            return Err((answers.remove(0))());
        }
        Ok(Sent {
            provider: "test",
            provider_id: format!("test-{}", text.message_id),
        })
    }
}

struct Harness {
    engine: Arc<Engine<SqliteStore>>,
    clock: Arc<ManualClock>,
    outbox: Outbox<SqliteStore>,
    receipts: Receipts<SqliteStore>,
    events: Captured,
    tenant: TenantId,
}

fn harness(sender: Arc<dyn SmsSender>) -> Harness {
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let engine = Arc::new(Engine::new(store, clock.clone(), vec![book]));
    let events = Captured::default();
    let publisher = Arc::new(ConsolePublisher::new(Box::new(events.clone())));
    Harness {
        outbox: Outbox::new(engine.clone(), sender, publisher.clone()),
        receipts: Receipts::new(engine.clone(), publisher),
        engine,
        clock,
        events,
        tenant: TenantId::parse("acme").unwrap(),
    }
}

impl Harness {
    /// Customer `c{n}` with phone `+1425555{n:04}`, and one order of theirs paid now.
    async fn order(&self, n: u32) {
        let customer: CustomerInput = serde_json::from_value(json!({
            "id": format!("c{n}"), "phone": format!("+1425555{n:04}"), "timezone": "UTC"
        }))
        .unwrap();
        self.engine
            .upsert_customer(&self.tenant, customer)
            .await
            .unwrap();
        let event: EventInput = serde_json::from_value(json!({
            "event_id": format!("o{n}"), "customer_id": format!("c{n}"), "type": "order.paid",
            "occurred_at": self.engine.now(), "properties": {"order_id": format!("A{n}")}
        }))
        .unwrap();
        self.engine.ingest_event(&self.tenant, event).await.unwrap();
    }

    async fn message(&self, n: u32) -> Message {
        let id = nudge_core::domain::CustomerId::parse(format!("c{n}")).unwrap();
        let messages = self
            .engine
            .store()
            .customer_messages(&self.tenant, &id, 10)
            .await
            .unwrap();
        assert_eq!(messages.len(), 1, "{messages:?}");
        messages.into_iter().next().unwrap()
    }

    async fn delivery(&self) -> DeliverySummary {
        let day = start().date_naive();
        let rows = self
            .engine
            .store()
            .stats(&self.tenant, day, day)
            .await
            .unwrap();
        DeliverySummary::of(&rows)
    }

    fn published(&self, detail_type: &str) -> Vec<serde_json::Value> {
        self.events
            .lines()
            .into_iter()
            .filter(|e| e["detail_type"] == detail_type)
            .collect()
    }
}

fn receipt(provider_id: &str, outcome: DeliveryOutcome, at: DateTime<Utc>) -> Receipt {
    Receipt {
        provider: "test".into(),
        provider_id: provider_id.into(),
        outcome,
        report: DeliveryReport {
            at,
            provider_status: format!("{outcome:?}"),
            price_usd: Some(0.00645),
            parts: Some(1),
            carrier: Some("Example Mobile".into()),
        },
    }
}

#[tokio::test]
async fn texts_go_out_from_the_tenants_number_which_takes_its_replies() {
    let sender = Arc::new(Scripted::default());
    let h = harness(sender.clone());
    h.order(1).await;
    assert_eq!(h.outbox.send_due(10).await.unwrap().sent, 1);
    let own = PhoneNumber::parse("+18335550100", None).unwrap();
    // With the rule's gateway template, its parameters rendered when it was decided.
    let template = TemplateRef {
        id: "2001".into(),
        params: vec!["A1".into()],
    };
    assert_eq!(
        sender.seen.lock().unwrap()[0],
        (
            "+14255550001".to_string(),
            Some(Origination::Number(own.clone())),
            Some(template.clone())
        )
    );
    assert_eq!(h.message(1).await.template, Some(template));
    // The sending number is one of the tenant's: replies to it are routed to the tenant.
    assert_eq!(
        h.engine.tenant_for_number(own.as_str()),
        Some(h.tenant.clone())
    );
}

#[tokio::test]
async fn receipts_settle_each_text_once_and_count_on_its_send_day() {
    let h = harness(Arc::new(Scripted::default()));
    h.order(1).await;
    h.order(2).await;
    assert_eq!(h.outbox.send_due(10).await.unwrap().sent, 2);
    let (one, two) = (h.message(1).await, h.message(2).await);
    assert_eq!(one.status, MessageStatus::Sent);
    assert_eq!(one.provider.as_deref(), Some("test"));
    assert_eq!(one.sent_at, Some(start()));
    let id = |m: &Message| m.provider_id.clone().unwrap();

    // Two days later (a slow carrier), after midnight: still counted with the texts.
    h.clock.advance(TimeDelta::hours(50));
    let late = h.engine.now();
    let delivered = receipt(&id(&one), DeliveryOutcome::Delivered, late);
    let unreachable = receipt(
        &id(&two),
        DeliveryOutcome::Undelivered(UndeliveredReason::Unreachable),
        late,
    );
    assert_eq!(
        h.receipts.record(&delivered).await.unwrap(),
        ReceiptApplied::Recorded
    );
    assert_eq!(
        h.receipts.record(&unreachable).await.unwrap(),
        ReceiptApplied::Recorded
    );
    // Twice, and out of order: a "delivered" after the final "undelivered" changes nothing.
    assert_eq!(
        h.receipts.record(&delivered).await.unwrap(),
        ReceiptApplied::AlreadySettled
    );
    let contradicting = receipt(&id(&two), DeliveryOutcome::Delivered, late);
    assert_eq!(
        h.receipts.record(&contradicting).await.unwrap(),
        ReceiptApplied::AlreadySettled
    );

    let (one, two) = (h.message(1).await, h.message(2).await);
    assert_eq!(one.status, MessageStatus::Delivered);
    assert_eq!(
        one.delivery.as_ref().unwrap().carrier.as_deref(),
        Some("Example Mobile")
    );
    assert_eq!(
        (two.status, two.reason.as_deref()),
        (MessageStatus::Undelivered, Some("unreachable"))
    );

    let summary = h.delivery().await;
    assert_eq!(
        (summary.sent, summary.delivered, summary.undelivered),
        (2, 1, 1)
    );
    assert_eq!(summary.undelivered_by_reason["unreachable"], 1);
    assert_eq!(summary.delivery_rate, Some(0.5));
    assert_eq!(summary.parts, 2);
    assert!(
        (summary.cost_usd - 0.0129).abs() < 1e-9,
        "{}",
        summary.cost_usd
    );
    assert_eq!(h.published("message.delivered").len(), 1);
    let undelivered = h.published("message.undelivered");
    assert_eq!(undelivered.len(), 1);
    assert_eq!(undelivered[0]["detail"]["reason"], "unreachable");
}

#[tokio::test]
async fn a_receipt_for_a_text_nudge_did_not_send_changes_nothing() {
    let h = harness(Arc::new(Scripted::default()));
    h.order(1).await;
    h.outbox.send_due(10).await.unwrap();
    let stranger = receipt("test-someone-else", DeliveryOutcome::Delivered, start());
    assert_eq!(
        h.receipts.record(&stranger).await.unwrap(),
        ReceiptApplied::Unmatched
    );
    // Provider ids are unique per provider only: another provider's id is another text.
    let mut elsewhere = receipt(
        h.message(1).await.provider_id.as_deref().unwrap(),
        DeliveryOutcome::Delivered,
        start(),
    );
    elsewhere.provider = "sns".into();
    assert_eq!(
        h.receipts.record(&elsewhere).await.unwrap(),
        ReceiptApplied::Unmatched
    );
    assert_eq!(h.message(1).await.status, MessageStatus::Sent);
    assert_eq!(h.delivery().await.awaiting_receipt, 1);
}

#[tokio::test]
async fn an_opted_out_receipt_suppresses_the_number_in_nudge_too() {
    let h = harness(Arc::new(Scripted::default()));
    h.order(1).await;
    h.outbox.send_due(10).await.unwrap();
    let id = h.message(1).await.provider_id.unwrap();
    let opted_out = receipt(
        &id,
        DeliveryOutcome::Undelivered(UndeliveredReason::OptedOut),
        start(),
    );
    assert_eq!(
        h.receipts.record(&opted_out).await.unwrap(),
        ReceiptApplied::Recorded
    );
    let phone = PhoneNumber::parse("+14255550001", None).unwrap();
    assert!(h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
    let customer = h
        .engine
        .store()
        .get_customer(
            &h.tenant,
            &nudge_core::domain::CustomerId::parse("c1").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(customer.is_opted_out());
    assert_eq!(customer.consent.source.as_deref(), Some("provider"));
}

#[tokio::test]
async fn a_spend_limit_pauses_sending_and_the_texts_wait_without_losing_attempts() {
    let sender = Arc::new(Scripted::default());
    sender
        .answers
        .lock()
        .unwrap()
        .push(|| SendError::SpendLimitReached {
            message: "eum: monthly spend limit reached".into(),
            source: None,
        });
    let h = harness(sender.clone());
    h.order(1).await;
    h.order(2).await;
    let report = h.outbox.send_due(10).await.unwrap();
    assert_eq!((report.paused, report.sent), (1, 0));
    assert_eq!(
        sender.seen.lock().unwrap().len(),
        1,
        "sending stopped at the limit"
    );
    let paused = [h.message(1).await, h.message(2).await]
        .into_iter()
        .find(|m| m.reason.is_some())
        .unwrap();
    assert_eq!(paused.status, MessageStatus::Queued);
    assert_eq!(paused.attempts, 0, "the pause uses up no attempt");
    assert_eq!(paused.next_attempt_at, Some(start() + TimeDelta::hours(1)));
    let day = start().date_naive();
    let stats = h.engine.store().stats(&h.tenant, day, day).await.unwrap();
    assert!(stats
        .iter()
        .any(|r| r.counters.get("paused_spend_limit") == Some(&1)));

    // The other text was not tried; the paused one goes when its hour is over.
    assert_eq!(h.outbox.send_due(10).await.unwrap().sent, 1);
    h.clock.advance(TimeDelta::hours(1));
    assert_eq!(h.outbox.send_due(10).await.unwrap().sent, 1);
}

#[tokio::test]
async fn an_invalid_number_fails_the_text_for_good() {
    let sender = Arc::new(Scripted::default());
    sender
        .answers
        .lock()
        .unwrap()
        .push(|| SendError::InvalidNumber {
            message: "sns: invalid phone number".into(),
            source: None,
        });
    let h = harness(sender);
    h.order(1).await;
    assert_eq!(h.outbox.send_due(10).await.unwrap().failed, 1);
    let failed = h.message(1).await;
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.reason.as_deref(), Some("sns: invalid phone number"));
}

#[tokio::test]
async fn the_console_provider_reports_the_asked_share_undelivered() {
    let lines = Captured::default();
    let clock_start = start();
    let fail_numbers = HashSet::from([PhoneNumber::parse("+14255550007", None).unwrap()]);
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let clock = Arc::new(ManualClock::new(clock_start));
    let console = Arc::new(
        ConsoleSender::new(Box::new(lines.clone()), Format::JsonLines).with_receipts(
            ReceiptPlan {
                fail_rate: 0.05,
                fail_numbers,
            },
            clock.clone(),
        ),
    );
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let engine = Arc::new(Engine::new(store, clock, vec![book]));
    let h = Harness {
        outbox: Outbox::new(
            engine.clone(),
            console.clone(),
            Arc::new(ConsolePublisher::discard()),
        ),
        receipts: Receipts::new(engine.clone(), Arc::new(ConsolePublisher::discard())),
        engine,
        clock: Arc::new(ManualClock::new(clock_start)),
        events: Captured::default(),
        tenant: TenantId::parse("acme").unwrap(),
    };
    for n in 1..=1000 {
        h.order(n).await;
    }
    assert_eq!(h.outbox.send_due(2000).await.unwrap().sent, 1000);
    assert_eq!(lines.lines()[0]["from"], "+18335550100");
    let receipts = console.take_receipts().unwrap();
    assert_eq!(receipts.len(), 1000);
    assert!(console.take_receipts().unwrap().is_empty(), "taken once");
    h.receipts.record_all(&receipts).await.unwrap();

    let summary = h.delivery().await;
    assert_eq!(summary.delivered + summary.undelivered, 1000);
    assert_eq!(summary.undelivered_by_reason["invalid_number"], 1);
    let rate = summary.delivery_rate.unwrap();
    // 5 % of 1000 chosen by hash: a binomial's ±3 standard deviations is ±2.1 points.
    assert!((0.929..=0.971).contains(&rate), "delivery rate {rate}");
    assert_eq!(h.message(7).await.reason.as_deref(), Some("invalid_number"));
}

impl Harness {
    /// Another order of customer `c{n}`, paid now (`k` tells the orders apart).
    async fn another_order(&self, n: u32, k: u32) {
        let event: EventInput = serde_json::from_value(json!({
            "event_id": format!("o{n}-{k}"), "customer_id": format!("c{n}"), "type": "order.paid",
            "occurred_at": self.engine.now(), "properties": {"order_id": format!("A{n}-{k}")}
        }))
        .unwrap();
        self.engine.ingest_event(&self.tenant, event).await.unwrap();
    }

    async fn customer(&self, n: u32) -> nudge_core::domain::Customer {
        let id = nudge_core::domain::CustomerId::parse(format!("c{n}")).unwrap();
        self.engine
            .store()
            .get_customer(&self.tenant, &id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The customer's messages, newest first.
    async fn messages(&self, n: u32) -> Vec<Message> {
        let id = nudge_core::domain::CustomerId::parse(format!("c{n}")).unwrap();
        self.engine
            .store()
            .customer_messages(&self.tenant, &id, 50)
            .await
            .unwrap()
    }

    /// Sends what is due, then settles the newest sent text of `c{n}` with `outcome`.
    async fn send_and_settle(&self, n: u32, outcome: DeliveryOutcome) {
        self.outbox.send_due(10).await.unwrap();
        let newest = self.messages(n).await.into_iter().next().unwrap();
        assert_eq!(newest.status, MessageStatus::Sent, "{newest:?}");
        let id = newest.provider_id.unwrap();
        self.clock.advance(TimeDelta::minutes(1));
        let applied = self
            .receipts
            .record(&receipt(&id, outcome, self.engine.now()))
            .await
            .unwrap();
        assert_eq!(applied, ReceiptApplied::Recorded);
    }

    async fn counter(&self, name: &str) -> i64 {
        let day = start().date_naive();
        let rows = self
            .engine
            .store()
            .stats(&self.tenant, day, day)
            .await
            .unwrap();
        rows.iter().filter_map(|r| r.counters.get(name)).sum()
    }
}

#[tokio::test]
async fn an_invalid_number_answer_gives_the_number_up_at_once() {
    let sender = Arc::new(Scripted::default());
    sender
        .answers
        .lock()
        .unwrap()
        .push(|| SendError::InvalidNumber {
            message: "sns: invalid phone number".into(),
            source: None,
        });
    let h = harness(sender);
    h.order(1).await;
    h.outbox.send_due(10).await.unwrap();
    let phone = PhoneNumber::parse("+14255550001", None).unwrap();
    assert!(h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
    let invalid = h.customer(1).await.number_invalid.unwrap();
    assert_eq!(
        (invalid.reason, invalid.outcomes, invalid.phone),
        (UndeliveredReason::InvalidNumber, 1, phone)
    );
    assert_eq!(h.counter("number_invalid_invalid_number").await, 1);
    let given_up = h.published("customer.number_invalid");
    assert_eq!(given_up.len(), 1, "{given_up:?}");
    assert_eq!(given_up[0]["detail"]["reason"], "invalid_number");

    // The customer's next text is decided skipped, never queued.
    h.another_order(1, 2).await;
    assert_eq!(h.counter("skipped_number_invalid").await, 1);
    let newest = h.messages(1).await.into_iter().next().unwrap();
    assert_eq!(newest.status, MessageStatus::Skipped);
    assert_eq!(newest.reason.as_deref(), Some("number_invalid"));
}

#[tokio::test]
async fn unreachable_three_times_in_a_row_gives_the_number_up_and_skips_what_is_queued() {
    let h = harness(Arc::new(Scripted::default()));
    let unreachable = DeliveryOutcome::Undelivered(UndeliveredReason::Unreachable);
    h.order(1).await;
    h.send_and_settle(1, unreachable).await;
    h.another_order(1, 2).await;
    h.send_and_settle(1, DeliveryOutcome::Delivered).await;
    // The delivered text ends the row: two more unreachable ones are not yet three.
    for k in 3..=4 {
        h.another_order(1, k).await;
        h.send_and_settle(1, unreachable).await;
    }
    assert!(h.customer(1).await.number_invalid.is_none());
    // An outcome for another reason says nothing about the number and does not end the row.
    h.another_order(1, 5).await;
    h.send_and_settle(
        1,
        DeliveryOutcome::Undelivered(UndeliveredReason::PriceExceeded),
    )
    .await;
    assert!(h.customer(1).await.number_invalid.is_none());

    // The third unreachable one in a row, with another text already queued behind it.
    h.another_order(1, 6).await;
    h.outbox.send_due(10).await.unwrap();
    h.clock.advance(TimeDelta::minutes(1));
    h.another_order(1, 7).await;
    let sent = h
        .messages(1)
        .await
        .into_iter()
        .find(|m| m.status == MessageStatus::Sent)
        .unwrap();
    h.receipts
        .record(&receipt(
            sent.provider_id.as_deref().unwrap(),
            unreachable,
            h.engine.now(),
        ))
        .await
        .unwrap();
    let invalid = h.customer(1).await.number_invalid.unwrap();
    assert_eq!(
        (invalid.reason, invalid.outcomes),
        (UndeliveredReason::Unreachable, 3)
    );
    assert_eq!(h.counter("number_invalid_unreachable").await, 1);
    assert_eq!(h.outbox.send_due(10).await.unwrap().suppressed, 1);
    let newest = h.messages(1).await.into_iter().next().unwrap();
    assert_eq!(newest.status, MessageStatus::Skipped);
    assert_eq!(newest.reason.as_deref(), Some("number_invalid"));
    assert_eq!(h.counter("skipped_number_invalid").await, 1);
    let summary = h.delivery().await;
    assert_eq!(summary.numbers_invalid.get("unreachable"), Some(&1));
}

#[tokio::test]
async fn a_new_number_is_texted_again_and_a_reply_from_the_old_one_revives_it() {
    let sender = Arc::new(Scripted::default());
    sender
        .answers
        .lock()
        .unwrap()
        .push(|| SendError::InvalidNumber {
            message: "sns: invalid phone number".into(),
            source: None,
        });
    let h = harness(sender);
    h.order(1).await;
    h.outbox.send_due(10).await.unwrap();
    assert!(h.customer(1).await.number_is_invalid());

    // The customer's new number is theirs to be texted on.
    let moved: CustomerInput = serde_json::from_value(json!({
        "id": "c1", "phone": "+14255550991", "timezone": "UTC"
    }))
    .unwrap();
    h.engine.upsert_customer(&h.tenant, moved).await.unwrap();
    assert!(!h.customer(1).await.number_is_invalid());
    h.another_order(1, 2).await;
    assert_eq!(h.outbox.send_due(10).await.unwrap().sent, 1);

    // Back on the old number, which answers START: it works after all.
    let back: CustomerInput = serde_json::from_value(json!({
        "id": "c1", "phone": "+14255550001", "timezone": "UTC"
    }))
    .unwrap();
    h.engine.upsert_customer(&h.tenant, back).await.unwrap();
    assert!(h.customer(1).await.number_is_invalid());
    let start = nudge_core::service::InboundSms {
        from: "+14255550001".into(),
        to: "+18335550100".into(),
        body: "START".into(),
        provider_id: "in-start".into(),
        in_reply_to: None,
    };
    let publisher = ConsolePublisher::new(Box::new(Captured::default()));
    h.engine
        .handle_reply(&h.tenant, start, &publisher)
        .await
        .unwrap();
    assert!(!h.customer(1).await.number_is_invalid());
    let phone = PhoneNumber::parse("+14255550001", None).unwrap();
    assert!(!h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
}

#[tokio::test]
async fn after_72_hours_without_a_receipt_a_text_is_unknown_until_a_late_receipt_settles_it() {
    let h = harness(Arc::new(Scripted::default()));
    h.order(1).await;
    h.order(2).await;
    h.outbox.send_due(10).await.unwrap();
    let late = h.message(1).await;
    // Text 2 gets its receipt in time.
    let on_time = h.message(2).await;
    h.receipts
        .record(&receipt(
            on_time.provider_id.as_deref().unwrap(),
            DeliveryOutcome::Delivered,
            h.engine.now(),
        ))
        .await
        .unwrap();

    h.clock.advance(TimeDelta::hours(71));
    assert_eq!(
        h.outbox.settle_unreceipted(10).await.unwrap(),
        0,
        "still waiting"
    );
    h.clock.advance(TimeDelta::hours(1));
    assert_eq!(h.outbox.settle_unreceipted(10).await.unwrap(), 1);
    assert_eq!(h.outbox.settle_unreceipted(10).await.unwrap(), 0, "once");
    let unknown = h.message(1).await;
    assert_eq!(unknown.status, MessageStatus::Unknown);
    assert_eq!(unknown.reason.as_deref(), Some("no_receipt"));
    let announced = h.published("message.unknown");
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0]["detail"]["resolution"], "no_receipt");
    let summary = h.delivery().await;
    assert_eq!(
        (
            summary.sent,
            summary.delivered,
            summary.no_receipt,
            summary.awaiting_receipt
        ),
        (2, 1, 1, 0)
    );

    // The receipt comes after all: delivered, and no longer counted as without one.
    let applied = h
        .receipts
        .record(&receipt(
            late.provider_id.as_deref().unwrap(),
            DeliveryOutcome::Delivered,
            h.engine.now(),
        ))
        .await
        .unwrap();
    assert_eq!(applied, ReceiptApplied::Recorded);
    assert_eq!(h.message(1).await.status, MessageStatus::Delivered);
    let summary = h.delivery().await;
    assert_eq!(
        (summary.delivered, summary.no_receipt, summary.delivery_rate),
        (2, 0, Some(1.0))
    );
}
