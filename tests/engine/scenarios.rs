//! The engine end to end on the embedded store: rulebook → timers → tick → outbox → replies,
//! driven by a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::domain::{CustomerId, MessageStatus, Origination, PhoneNumber, TenantId};
use nudge_core::ports::{
    CounterStore, CustomerStore, DueIndex, MessageStore, OutgoingText, ProviderOptIn,
    ProviderOptOuts, SendError, Sent, SmsSender, SuppressionList,
};
use nudge_core::service::{
    CustomerInput, Engine, EventInput, InboundSms, Outbox, Outcome, ReplyOutcome,
};
use nudge_core::{rulebook, Error};
use nudge_local::console::{ConsolePublisher, ConsoleSender, Format};
use nudge_sqlite::SqliteStore;
use serde_json::json;
use std::sync::{Arc, Mutex};

const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
holidays: [2026-10-01, 2026-10-02, 2026-10-05]
attributes: [name, plan, trial_started_at]
policy:
  window: {start: "09:00", end: "20:00"}
  transactional: {window: {start: "08:00", end: "22:00"}}
  marketing: {weekdays_only: true, skip_holidays: true, per_week: 2, per_30_days: 3, on_cap: skip}
  care: {per_week: 3, on_cap: defer}
  same_rule_min_gap: 72h
  opt_out_footer: "回复TD退订"
replies:
  opt_out_confirmation: "已退订，回复START可恢复"
  help_text: "客服电话400-000-0000"
rules:
  - id: trial-day-7
    category: care
    trigger: {date: trial_started_at, offset: 7d, at: "10:00"}
    when: customer.plan == "trial"
    exit: customer.plan == "paid"
    template: "{{name}}您好，试用已满7天，有问题回复1预约演示。"
    replies: {"1": {emit: demo.requested, answer: "已收到，顾问将联系您。", set: {demo_requested_at: now}}}
  - id: thank-you
    category: transactional
    trigger: {event: order.paid}
    template: "{{name}}您好，订单{{event.properties.order_id}}已付款。"
  - id: promo
    category: marketing
    trigger: {event: promo.eligible}
    template: "{{name}}您好，本周会员日全场9折。"
  - id: late-care
    category: care
    trigger: {event: ticket.closed}
    template: "{{name}}您好，您的工单已处理完毕。"
"#;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

use captured::Captured;
use nudge_tests::captured;

struct Harness {
    engine: Arc<Engine<SqliteStore>>,
    clock: Arc<ManualClock>,
    outbox: Outbox<SqliteStore>,
    outbox_lines: Captured,
    events: Captured,
    publisher: Arc<ConsolePublisher>,
    tenant: TenantId,
}

fn harness(start: DateTime<Utc>) -> Harness {
    harness_with_sender(start, None)
}

fn harness_with_sender(start: DateTime<Utc>, sender: Option<Arc<dyn SmsSender>>) -> Harness {
    harness_on(start, sender, SqliteStore::in_memory().unwrap())
}

fn harness_on(
    start: DateTime<Utc>,
    sender: Option<Arc<dyn SmsSender>>,
    store: SqliteStore,
) -> Harness {
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(store);
    let engine = Arc::new(Engine::new(store, clock.clone(), vec![book]));
    let outbox_lines = Captured::default();
    let events = Captured::default();
    let sender = sender.unwrap_or_else(|| {
        Arc::new(ConsoleSender::new(
            Box::new(outbox_lines.clone()),
            Format::JsonLines,
        ))
    });
    let publisher = Arc::new(ConsolePublisher::new(Box::new(events.clone())));
    let outbox = Outbox::new(engine.clone(), sender, publisher.clone());
    Harness {
        engine,
        clock,
        outbox,
        outbox_lines,
        events,
        publisher,
        tenant: TenantId::parse("acme").unwrap(),
    }
}

fn trial_customer(id: &str, phone: &str) -> CustomerInput {
    serde_json::from_value(json!({
        "id": id, "phone": phone,
        "attributes": {"name": "王芳", "plan": "trial", "trial_started_at": "2026-03-02"}
    }))
    .unwrap()
}

fn event(id: &str, customer: &str, kind: &str, at: DateTime<Utc>) -> EventInput {
    serde_json::from_value(json!({
        "event_id": id, "customer_id": customer, "type": kind, "occurred_at": at,
        "properties": {"order_id": "A100"}
    }))
    .unwrap()
}

impl Harness {
    async fn run_until(&self, end: DateTime<Utc>) -> Vec<nudge_core::service::DecisionRecord> {
        let mut decisions = Vec::new();
        while self.engine.now() < end {
            self.clock.advance(TimeDelta::minutes(1));
            decisions.extend(self.engine.tick().await.unwrap().decisions);
            self.outbox.send_due(100).await.unwrap();
        }
        decisions
    }

    fn id(&self, id: &str) -> CustomerId {
        CustomerId::parse(id).unwrap()
    }

    async fn reply(&self, from: &str, body: &str, provider_id: &str) -> ReplyOutcome {
        let sms = InboundSms {
            from: from.into(),
            to: "+8610690000".into(),
            body: body.into(),
            provider_id: provider_id.into(),
            in_reply_to: None,
        };
        self.engine
            .handle_reply(&self.tenant, sms, &*self.publisher)
            .await
            .unwrap()
            .outcome
    }
}

#[tokio::test]
async fn a_date_rule_fires_once_at_local_time_with_brand_and_footer() {
    let h = harness(at(2026, 3, 8, 0, 0));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    // 2026-03-09 10:00 in Shanghai is 02:00 UTC.
    let timers = h
        .engine
        .store()
        .customer_timers(&h.tenant, &h.id("c1"))
        .await
        .unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].due, at(2026, 3, 9, 2, 0));
    let decisions = h.run_until(at(2026, 3, 12, 0, 0)).await;
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].decided_at, at(2026, 3, 9, 2, 0));
    let sent = h.outbox_lines.lines();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], "+8613800138001");
    assert_eq!(
        sent[0]["text"],
        "【阿克米】王芳您好，试用已满7天，有问题回复1预约演示。回复TD退订"
    );
    let messages = h
        .engine
        .store()
        .customer_messages(&h.tenant, &h.id("c1"), 10)
        .await
        .unwrap();
    assert_eq!(messages[0].status, MessageStatus::Sent);
    let provider_id = messages[0].provider_id.as_deref().unwrap();
    assert!(
        provider_id.starts_with("console-") && provider_id.ends_with("-1"),
        "{provider_id}"
    );
    let day = at(2026, 3, 9, 0, 0).date_naive();
    let stats = h.engine.store().stats(&h.tenant, day, day).await.unwrap();
    assert_eq!(stats[0].counters["queued"], 1);
    assert_eq!(stats[0].counters["sent"], 1);
    let published = h.events.lines();
    assert_eq!(published[0]["detail_type"], "message.sent");
}

#[tokio::test]
async fn running_the_same_minute_twice_sends_once() {
    let h = harness(at(2026, 3, 9, 2, 0));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    // The customer was created exactly at the due minute: the occurrence is in the past.
    assert!(h
        .engine
        .store()
        .customer_timers(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .is_empty());

    let h = harness(at(2026, 3, 9, 1, 59));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    h.clock.set(at(2026, 3, 9, 2, 0));
    let timers = h
        .engine
        .store()
        .due_timers(at(2026, 3, 9, 2, 0))
        .await
        .unwrap();
    let first = h.engine.tick().await.unwrap();
    assert_eq!(first.decisions.len(), 1);
    // The same occurrence seen again (an overlapping invocation, a redelivered timer) is
    // decided as a duplicate and sends nothing.
    let mut again = timers[0].clone();
    again.due = at(2026, 3, 9, 2, 1);
    h.engine.store().put_timers(&[again]).await.unwrap();
    h.clock.set(at(2026, 3, 9, 2, 1));
    let second = h.engine.tick().await.unwrap();
    assert_eq!(second.decisions[0].outcome.kind(), "skip");
    h.outbox.send_due(10).await.unwrap();
    h.outbox.send_due(10).await.unwrap();
    assert_eq!(h.outbox_lines.lines().len(), 1);
}

#[tokio::test]
async fn the_tick_catches_up_after_downtime_within_its_bound() {
    let h = harness(at(2026, 3, 8, 0, 0));
    for (i, phone) in ["13800138001", "13800138002", "13800138003"]
        .iter()
        .enumerate()
    {
        let mut c = trial_customer(&format!("c{i}"), phone);
        c.attributes.insert(
            "trial_started_at".into(),
            json!(format!("2026-03-0{}", i + 2)),
        );
        h.engine.upsert_customer(&h.tenant, c).await.unwrap();
    }
    h.engine.tick().await.unwrap();
    // Down from 03-08 00:00 until 03-12 03:00 (11:00 in Shanghai): three timers fell due.
    h.clock.set(at(2026, 3, 12, 3, 0));
    let engine = Engine::new(
        h.engine.store().clone(),
        h.clock.clone(),
        vec![rulebook::parse(RULES, "a").unwrap()],
    )
    .with_config(nudge_core::service::EngineConfig {
        max_minutes_per_tick: 3 * 24 * 60,
        ..Default::default()
    });
    let first = engine.tick().await.unwrap();
    assert!(first.behind);
    // The first three days after the checkpoint (to 03-11 00:00) hold 03-09 and 03-10; the
    // late texts go out now, inside the window.
    assert_eq!(first.decisions.len(), 2);
    let second = engine.tick().await.unwrap();
    assert!(!second.behind);
    assert_eq!(second.decisions.len(), 1);
    assert!(first
        .decisions
        .iter()
        .chain(&second.decisions)
        .all(|d| d.outcome.kind() == "send"));
}

#[tokio::test]
async fn events_are_idempotent_and_no_delay_rules_decide_at_ingest() {
    let h = harness(at(2026, 3, 9, 3, 0));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    let report = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 9, 2, 59)),
        )
        .await
        .unwrap();
    assert!(!report.duplicate);
    assert_eq!(report.decisions.len(), 1);
    assert!(
        matches!(&report.decisions[0].outcome, Outcome::Send { text, .. } if text == "【阿克米】王芳您好，订单A100已付款。")
    );
    let again = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 9, 2, 59)),
        )
        .await
        .unwrap();
    assert!(again.duplicate);
    assert!(again.decisions.is_empty());
    let customer = h
        .engine
        .store()
        .get_customer(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(customer.activity["order.paid"].count, 1);
    h.run_until(at(2026, 3, 9, 3, 10)).await;
    assert_eq!(h.outbox_lines.lines().len(), 1);
}

#[tokio::test]
async fn outside_the_window_care_waits_for_the_next_opening() {
    // 2026-03-09 13:30 UTC is 21:30 in Shanghai: after the 20:00 close.
    let h = harness(at(2026, 3, 9, 13, 30));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    let report = h
        .engine
        .ingest_event(
            &h.tenant,
            event("t1", "c1", "ticket.closed", at(2026, 3, 9, 13, 30)),
        )
        .await
        .unwrap();
    match &report.decisions[0].outcome {
        Outcome::Defer { until, reason, .. } => {
            assert_eq!(reason, "window");
            assert_eq!(
                *until,
                at(2026, 3, 10, 1, 0),
                "09:00 the next morning in Shanghai"
            );
        }
        other => panic!("expected a deferral, got {other:?}"),
    }
    // Transactional texts have their own 08:00–22:00 window: sent right away.
    let paid = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 9, 13, 30)),
        )
        .await
        .unwrap();
    assert_eq!(paid.decisions[0].outcome.kind(), "send");
    let decisions = h.run_until(at(2026, 3, 10, 2, 0)).await;
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].decided_at, at(2026, 3, 10, 1, 0));
    assert_eq!(decisions[0].outcome.kind(), "send");
}

#[tokio::test]
async fn marketing_on_a_holiday_waits_for_the_next_business_day_and_caps_skip() {
    // 2026-10-01 (holiday) 10:00 Shanghai. Next business day: 10-02 holiday, 10-03/04 weekend,
    // 10-05 holiday → Tuesday 10-06 09:00 local = 01:00 UTC.
    let h = harness(at(2026, 10, 1, 2, 0));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    let report = h
        .engine
        .ingest_event(
            &h.tenant,
            event("p1", "c1", "promo.eligible", at(2026, 10, 1, 2, 0)),
        )
        .await
        .unwrap();
    assert!(
        matches!(&report.decisions[0].outcome, Outcome::Defer { until, .. } if *until == at(2026, 10, 6, 1, 0))
    );
    // Per week 2: the third promo within a week is skipped, not deferred (each 72 h after the
    // previous one, so the same-rule gap is not what stops it).
    h.clock.set(at(2026, 10, 6, 1, 0));
    let mut outcomes = Vec::new();
    outcomes.extend(h.engine.tick().await.unwrap().decisions);
    for (i, day) in [9, 12].iter().enumerate() {
        h.clock.set(at(2026, 10, *day, 2, 0));
        let r = h
            .engine
            .ingest_event(
                &h.tenant,
                event(
                    &format!("p{}", i + 2),
                    "c1",
                    "promo.eligible",
                    at(2026, 10, *day, 2, 0),
                ),
            )
            .await
            .unwrap();
        outcomes.extend(r.decisions);
    }
    let kinds: Vec<_> = outcomes
        .iter()
        .map(|d| (d.outcome.kind(), d.outcome.reason().map(str::to_string)))
        .collect();
    assert_eq!(kinds[0].0, "send");
    assert_eq!(kinds[1].0, "send");
    assert_eq!(kinds[2], ("skip", Some("cap_per_week".to_string())));
}

#[tokio::test]
async fn opt_out_wins_over_everything_and_confirms_once() {
    let h = harness(at(2026, 3, 8, 0, 0));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    assert_eq!(
        h.engine
            .store()
            .customer_timers(&h.tenant, &h.id("c1"))
            .await
            .unwrap()
            .len(),
        1
    );
    let outcome = h.reply("+8613800138001", "退订。", "in-1").await;
    assert_eq!(
        outcome,
        ReplyOutcome::OptedOut {
            confirmation_queued: true
        }
    );
    assert!(h
        .engine
        .store()
        .customer_timers(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .is_empty());
    // A repeated opt-out (any spelling) sends no second confirmation; a redelivery is a duplicate.
    assert_eq!(
        h.reply("+8613800138001", "ＴＤ", "in-2").await,
        ReplyOutcome::OptedOut {
            confirmation_queued: false
        }
    );
    assert_eq!(
        h.reply("+8613800138001", "退订。", "in-1").await,
        ReplyOutcome::Duplicate
    );
    // Even a transactional text is not sent any more.
    let paid = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 8, 0, 0)),
        )
        .await
        .unwrap();
    assert!(paid.decisions.is_empty());
    h.run_until(at(2026, 3, 12, 0, 0)).await;
    let sent = h.outbox_lines.lines();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["text"], "【阿克米】已退订，回复START可恢复");
    let phone = PhoneNumber::parse("+8613800138001", None).unwrap();
    assert!(h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
    // Deleting and re-creating the customer keeps the number suppressed.
    h.engine
        .delete_customer(&h.tenant, &h.id("c1"))
        .await
        .unwrap();
    let again = h
        .engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    assert!(again.is_opted_out());
}

/// Handling an opt-out fails after the number was suppressed (the store refuses to queue the
/// confirmation): the provider's redelivery still confirms, once.
#[tokio::test]
async fn an_opt_out_cut_short_after_suppressing_confirms_on_redelivery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nudge.db");
    let h = harness_on(
        at(2026, 3, 8, 0, 0),
        None,
        SqliteStore::open(&path).unwrap(),
    );
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    // Reply answers have ids `r_…`: the store fails to insert them until the trigger goes.
    let admin = rusqlite::Connection::open(&path).unwrap();
    admin
        .execute_batch(
            "CREATE TRIGGER refuse_answers BEFORE INSERT ON messages WHEN NEW.id LIKE 'r!_%' ESCAPE '!'
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
        )
        .unwrap();
    let td = InboundSms {
        from: "+8613800138001".into(),
        to: "+8610690000".into(),
        body: "TD".into(),
        provider_id: "in-1".into(),
        in_reply_to: None,
    };
    let failed = h
        .engine
        .handle_reply(&h.tenant, td.clone(), &*h.publisher)
        .await;
    assert!(failed.is_err());
    let phone = PhoneNumber::parse("+8613800138001", None).unwrap();
    assert!(
        h.engine
            .store()
            .is_suppressed(&h.tenant, &phone)
            .await
            .unwrap(),
        "cut short after suppressing"
    );

    admin.execute_batch("DROP TRIGGER refuse_answers").unwrap();
    assert_eq!(
        h.reply("+8613800138001", "TD", "in-1").await,
        ReplyOutcome::OptedOut {
            confirmation_queued: true
        }
    );
    assert_eq!(
        h.reply("+8613800138001", "TD", "in-1").await,
        ReplyOutcome::Duplicate
    );
    // Another opt-out later is not confirmed again.
    assert_eq!(
        h.reply("+8613800138001", "退订", "in-2").await,
        ReplyOutcome::OptedOut {
            confirmation_queued: false
        }
    );
    h.run_until(at(2026, 3, 8, 0, 5)).await;
    let sent = h.outbox_lines.lines();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["text"], "【阿克米】已退订，回复START可恢复");
}

#[tokio::test]
async fn keywords_act_in_the_context_of_the_last_message_only() {
    let h = harness(at(2026, 3, 9, 1, 59));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    h.run_until(at(2026, 3, 9, 2, 1)).await;
    assert_eq!(h.outbox_lines.lines().len(), 1);
    let outcome = h.reply("+8613800138001", "１", "in-1").await;
    assert_eq!(
        outcome,
        ReplyOutcome::Keyword {
            rule: "trial-day-7".into(),
            keyword: "1".into(),
            emitted: Some("demo.requested".into())
        }
    );
    let customer = h
        .engine
        .store()
        .get_customer(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .unwrap();
    assert!(customer.attributes.contains_key("demo_requested_at"));
    assert_eq!(customer.activity["demo.requested"].count, 1);
    h.outbox.send_due(10).await.unwrap();
    assert_eq!(
        h.outbox_lines.lines()[1]["text"],
        "【阿克米】已收到，顾问将联系您。"
    );
    assert!(h
        .events
        .lines()
        .iter()
        .any(|e| e["detail_type"] == "keyword.matched"));
    // Four days later the same keyword no longer refers to that text.
    h.clock.set(at(2026, 3, 13, 3, 0));
    assert_eq!(
        h.reply("+8613800138001", "1", "in-2").await,
        ReplyOutcome::FreeText
    );
    assert!(h
        .events
        .lines()
        .iter()
        .any(|e| e["detail_type"] == "reply.received"));
}

/// A sender that fails a number of times before accepting (a carrier having a bad minute),
/// each time with the error `failure` makes.
struct Flaky {
    failures_left: Mutex<u32>,
    failure: fn() -> SendError,
    /// What each call was asked to send: (to, origination).
    seen: Mutex<Vec<(String, Option<Origination>)>>,
}

impl Flaky {
    fn new(failures: u32, failure: fn() -> SendError) -> Self {
        Flaky {
            failures_left: Mutex::new(failures),
            failure,
            seen: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait::async_trait]
impl SmsSender for Flaky {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        self.seen
            .lock()
            .unwrap()
            .push((text.to.to_string(), text.origination.cloned()));
        let mut left = self.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err((self.failure)());
        }
        Ok(Sent {
            provider: "test",
            provider_id: format!("p-{}", text.message_id),
        })
    }
}

#[tokio::test]
async fn retryable_failures_back_off_and_permanent_ones_fail() {
    let flaky = Arc::new(Flaky::new(2, || SendError::retryable("throttled")));
    let h = harness_with_sender(at(2026, 3, 9, 3, 0), Some(flaky));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    h.engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 9, 3, 0)),
        )
        .await
        .unwrap();
    let first = h.outbox.send_due(10).await.unwrap();
    assert_eq!(first.retried, 1);
    // Backoff: 30 s after the first failure, 60 s after the second.
    assert_eq!(
        h.outbox.send_due(10).await.unwrap().retried,
        0,
        "not due yet"
    );
    h.clock.advance(TimeDelta::seconds(30));
    assert_eq!(h.outbox.send_due(10).await.unwrap().retried, 1);
    h.clock.advance(TimeDelta::seconds(59));
    assert_eq!(h.outbox.send_due(10).await.unwrap(), Default::default());
    h.clock.advance(TimeDelta::seconds(1));
    assert_eq!(h.outbox.send_due(10).await.unwrap().sent, 1);
    let m = &h
        .engine
        .store()
        .customer_messages(&h.tenant, &h.id("c1"), 1)
        .await
        .unwrap()[0];
    assert_eq!((m.status, m.attempts), (MessageStatus::Sent, 3));

    let broken = Arc::new(Flaky::new(1, || SendError::permanent("refused")));
    let h = harness_with_sender(at(2026, 3, 9, 3, 0), Some(broken));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    h.engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 9, 3, 0)),
        )
        .await
        .unwrap();
    assert_eq!(h.outbox.send_due(10).await.unwrap().failed, 1);
    let m = &h
        .engine
        .store()
        .customer_messages(&h.tenant, &h.id("c1"), 1)
        .await
        .unwrap()[0];
    assert_eq!(m.status, MessageStatus::Failed);
    assert!(h
        .events
        .lines()
        .iter()
        .any(|e| e["detail_type"] == "message.failed"));
}

/// A provider that refuses one number because it opted out with the carrier.
struct OptedOutAtCarrier(PhoneNumber);

#[async_trait::async_trait]
impl SmsSender for OptedOutAtCarrier {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        if *text.to == self.0 {
            return Err(SendError::OptedOut {
                provider: "sns".into(),
            });
        }
        Ok(Sent {
            provider: "sns",
            provider_id: "p-1".into(),
        })
    }
}

#[tokio::test]
async fn a_number_opted_out_at_the_provider_is_suppressed_not_retried() {
    let phone = PhoneNumber::parse("+8613800138001", None).unwrap();
    let sender = Arc::new(OptedOutAtCarrier(phone.clone()));
    let h = harness_with_sender(at(2026, 3, 9, 3, 0), Some(sender));
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    h.engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 9, 3, 0)),
        )
        .await
        .unwrap();
    let report = h.outbox.send_due(10).await.unwrap();
    assert_eq!((report.sent, report.retried, report.suppressed), (0, 0, 1));
    let store = h.engine.store();
    let m = &store
        .customer_messages(&h.tenant, &h.id("c1"), 1)
        .await
        .unwrap()[0];
    assert_eq!(m.status, MessageStatus::Skipped);
    assert_eq!(m.reason.as_deref(), Some("opted_out"));
    assert!(store.is_suppressed(&h.tenant, &phone).await.unwrap());
    let customer = store
        .get_customer(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .unwrap();
    assert!(customer.is_opted_out());
    assert_eq!(customer.consent.source.as_deref(), Some("provider"));
    assert!(
        store
            .customer_timers(&h.tenant, &h.id("c1"))
            .await
            .unwrap()
            .is_empty(),
        "pending timers are cancelled"
    );
    // Nothing further is queued for the number.
    let paid = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o2", "c1", "order.paid", at(2026, 3, 9, 3, 5)),
        )
        .await
        .unwrap();
    assert!(paid.decisions.is_empty());
    assert!(h
        .events
        .lines()
        .iter()
        .any(|e| e["detail_type"] == "message.skipped" && e["detail"]["reason"] == "opted_out"));
}

#[tokio::test]
async fn bad_customers_are_rejected_naming_the_field_and_store_nothing() {
    let h = harness(at(2026, 3, 9, 3, 0));
    let cases = [
        (json!({"id": "c1", "phone": "12345"}), "phone"),
        (
            json!({"id": "c1", "phone": "13800138001", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            json!({"id": "c1", "phone": "13800138001", "attributes": {"trial_started_at": "soon"}}),
            "attributes.trial_started_at",
        ),
        (json!({"id": "a#b", "phone": "13800138001"}), "customer_id"),
    ];
    for (input, field) in cases {
        let input: CustomerInput = serde_json::from_value(input).unwrap();
        match h.engine.upsert_customer(&h.tenant, input).await {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
    assert!(h
        .engine
        .store()
        .get_customer(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .is_none());
    let unknown = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o1", "nobody", "order.paid", at(2026, 3, 9, 3, 0)),
        )
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))));
    let future = h
        .engine
        .ingest_event(
            &h.tenant,
            event("o1", "c1", "order.paid", at(2026, 3, 10, 3, 0)),
        )
        .await;
    assert!(future.is_err());
}

/// A provider's opt-out list: the numbers on it, and whether it takes numbers off now.
#[derive(Default)]
struct ProviderList {
    listed: Mutex<Vec<PhoneNumber>>,
    refuses: Mutex<bool>,
}

#[async_trait::async_trait]
impl ProviderOptOuts for ProviderList {
    fn provider(&self) -> &'static str {
        "sns"
    }

    async fn opt_in(&self, phone: &PhoneNumber) -> nudge_core::Result<ProviderOptIn> {
        let mut listed = self.listed.lock().unwrap();
        if !listed.contains(phone) {
            return Ok(ProviderOptIn::NotOptedOut);
        }
        if *self.refuses.lock().unwrap() {
            return Ok(ProviderOptIn::Refused {
                reason: "opted in less than 30 days ago".into(),
            });
        }
        listed.retain(|p| p != phone);
        Ok(ProviderOptIn::OptedIn)
    }
}

/// The tenant leaves STOP and HELP to the provider; START goes through the provider's list.
fn provider_managed(start: DateTime<Utc>, list: Arc<ProviderList>) -> Harness {
    let rules = RULES.replace("replies:\n", "replies:\n  opt_outs_managed_by: provider\n");
    let book = rulebook::parse(&rules, "acme.yaml").unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let engine =
        Arc::new(Engine::new(store, clock.clone(), vec![book]).with_provider_opt_outs(list));
    let outbox_lines = Captured::default();
    let events = Captured::default();
    let sender = Arc::new(ConsoleSender::new(
        Box::new(outbox_lines.clone()),
        Format::JsonLines,
    ));
    let publisher = Arc::new(ConsolePublisher::new(Box::new(events.clone())));
    let outbox = Outbox::new(engine.clone(), sender, publisher.clone());
    Harness {
        engine,
        clock,
        outbox,
        outbox_lines,
        events,
        publisher,
        tenant: TenantId::parse("acme").unwrap(),
    }
}

#[tokio::test]
async fn where_the_provider_answers_stop_and_help_nudge_records_them_silently() {
    let list = Arc::new(ProviderList::default());
    let h = provider_managed(at(2026, 3, 8, 2, 0), list.clone());
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    assert_eq!(
        h.reply("+8613800138001", "HELP", "in-1").await,
        ReplyOutcome::Help { answered: false }
    );
    assert_eq!(
        h.reply("+8613800138001", "TD", "in-2").await,
        ReplyOutcome::OptedOut {
            confirmation_queued: false
        }
    );
    let phone = PhoneNumber::parse("+8613800138001", None).unwrap();
    assert!(h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
    h.outbox.send_due(100).await.unwrap();
    assert!(
        h.outbox_lines.lines().is_empty(),
        "the provider answered, not nudge"
    );
    let opted_out = h.events.lines();
    assert!(
        opted_out
            .iter()
            .any(|e| e["detail_type"] == "customer.opted_out"),
        "{opted_out:?}"
    );
}

#[tokio::test]
async fn an_opt_in_the_provider_refuses_keeps_the_number_suppressed_until_it_accepts() {
    let list = Arc::new(ProviderList::default());
    let h = provider_managed(at(2026, 3, 8, 2, 0), list.clone());
    h.engine
        .upsert_customer(&h.tenant, trial_customer("c1", "13800138001"))
        .await
        .unwrap();
    let phone = PhoneNumber::parse("+8613800138001", None).unwrap();
    h.reply("+8613800138001", "TD", "in-1").await;
    // The provider listed the number when it answered the TD.
    list.listed.lock().unwrap().push(phone.clone());
    *list.refuses.lock().unwrap() = true;

    let refused = h.reply("+8613800138001", "START", "in-2").await;
    assert_eq!(
        refused,
        ReplyOutcome::OptInRefused {
            provider: "sns".into(),
            reason: "opted in less than 30 days ago".into()
        }
    );
    assert!(h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
    let customer = h
        .engine
        .store()
        .get_customer(&h.tenant, &h.id("c1"))
        .await
        .unwrap()
        .unwrap();
    assert!(customer.is_opted_out(), "nudge and the provider agree");
    let events = h.events.lines();
    let event = events
        .iter()
        .find(|e| e["detail_type"] == "customer.opt_in_refused")
        .expect("an event for a person to follow up");
    assert_eq!(event["detail"]["customer_id"], "c1");
    assert_eq!(event["detail"]["provider"], "sns");

    // Later the provider accepts: both lists lift, and nudge confirms.
    *list.refuses.lock().unwrap() = false;
    assert_eq!(
        h.reply("+8613800138001", "START", "in-3").await,
        ReplyOutcome::OptedIn {
            confirmation_queued: true
        }
    );
    assert!(list.listed.lock().unwrap().is_empty());
    assert!(!h
        .engine
        .store()
        .is_suppressed(&h.tenant, &phone)
        .await
        .unwrap());
    h.outbox.send_due(100).await.unwrap();
    let sent = h.outbox_lines.lines();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let day = at(2026, 3, 8, 0, 0).date_naive();
    let rows = h.engine.store().stats(&h.tenant, day, day).await.unwrap();
    let replies = rows.iter().find(|r| r.rule == "replies").unwrap();
    assert_eq!(replies.counters.get("opt_in_refused"), Some(&1));
    assert_eq!(replies.counters.get("opted_in"), Some(&1));
}
