//! The deployed path end to end on the AWS emulator (moto): customers in DynamoDB → the
//! evaluate handler on a scheduled event → message items → the table's own stream records,
//! filtered as the template's event source mapping filters them → the send handler → texts
//! published with SNS → SNS's delivery-status log record in CloudWatch Logs → the receipts
//! handler on the subscription event → `delivered`. Only the clock is ours (so "now" is a
//! chosen instant).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use aws_lambda_events::cloudwatch_logs::LogsEvent;
use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::domain::{CustomerId, MessageStatus, TenantId};
use nudge_core::ports::{CounterStore, CustomerStore, DueIndex, MessageStore, SuppressionList};
use nudge_core::rulebook;
use nudge_core::service::{CustomerInput, DeliverySummary, Engine, Outbox, Receipts};
use nudge_dynamodb::{create_table, DynamoStore};
use nudge_evaluate::handle_schedule;
use nudge_eventbridge::EventBridgePublisher;
use nudge_inbound::handle_sns;
use nudge_receipts::handle_logs;
use nudge_send::{handle_stream, SendBudget};
use nudge_sns::{SnsOptOutList, SnsSender};
use nudge_tests::logs;
use nudge_tests::moto::{self, passes_send_filter, StreamReader};
use nudge_tests::wire::{form, sms_attributes, template_actions, Calls, Recorder};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

struct Deployment {
    store: Arc<DynamoStore>,
    engine: Arc<Engine<DynamoStore>>,
    clock: Arc<ManualClock>,
    outbox: Outbox<DynamoStore>,
    receipts: Receipts<DynamoStore>,
    publisher: EventBridgePublisher,
    tenant: TenantId,
    stream: StreamReader,
    /// The SNS requests sent (moto keeps the texts, not their attributes).
    sns_requests: Recorder,
    /// The AWS calls each function's code made.
    calls: Calls,
}

#[test]
fn the_filter_here_is_the_one_in_the_template() {
    let template = repo_file("infra/template.yaml");
    let pattern = r#"{"eventName": ["INSERT", "MODIFY"],
                     "dynamodb": {"NewImage": {"kind": {"S": ["message"]},
                                               "status": {"S": ["queued"]}}}}"#;
    assert!(
        template.contains(pattern),
        "the send filter in infra/template.yaml changed"
    );
}

async fn deploy(start: DateTime<Utc>) -> Deployment {
    deploy_with(start, &repo_file("infra/rulebooks/saas-lifecycle.yaml")).await
}

/// The functions wired as in production (the reply engine with SNS's opt-out list) over a
/// fresh table, with the rulebook `book`.
async fn deploy_with(start: DateTime<Utc>, book: &str) -> Deployment {
    let sdk = moto::sdk_config().await;
    let calls = Calls::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let table = moto::unique_name("nudge-e2e");
    create_table(&client, &table).await.unwrap();
    let store = Arc::new(DynamoStore::new(client, table));
    let stream = StreamReader::open(store.client(), store.table()).await;
    let book = rulebook::parse(book, "saas-lifecycle.yaml").unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let sns = |recorder: Option<&Recorder>| {
        let mut config = aws_sdk_sns::config::Builder::from(&sdk).interceptor(calls.clone());
        if let Some(recorder) = recorder {
            config = config.interceptor(recorder.clone());
        }
        aws_sdk_sns::Client::from_conf(config.build())
    };
    let opt_outs = SnsOptOutList::new(sns(None));
    let engine = Arc::new(
        Engine::new(store.clone(), clock.clone(), vec![book])
            .with_provider_opt_outs(Arc::new(opt_outs)),
    );
    let sns_requests = Recorder::default();
    let sender = SnsSender::new(sns(Some(&sns_requests)), Some("CLOUDNOTE".into()), None);
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let bus = || EventBridgePublisher::new(events.clone(), "default");
    let outbox = Outbox::new(engine.clone(), Arc::new(sender), Arc::new(bus()));
    let receipts = Receipts::new(engine.clone(), Arc::new(bus()));
    Deployment {
        store,
        engine,
        clock,
        outbox,
        receipts,
        publisher: bus(),
        tenant: TenantId::parse("cloudnote").unwrap(),
        stream,
        sns_requests,
        calls,
    }
}

impl Deployment {
    async fn customer(&self, id: &str, phone: &str, plan: &str) {
        self.customer_with(
            id,
            phone,
            json!({"name": "王芳", "plan": plan, "trial_started_at": "2026-03-02"}),
        )
        .await;
    }

    async fn customer_with(&self, id: &str, phone: &str, attributes: Value) {
        self.calls.now_in("IngestFunction");
        let input: CustomerInput =
            serde_json::from_value(json!({"id": id, "phone": phone, "attributes": attributes}))
                .unwrap();
        self.engine
            .upsert_customer(&self.tenant, input)
            .await
            .unwrap();
    }

    /// The sample scheduled event of `infra/events/`, fired at the clock's time.
    async fn evaluate(&self) -> nudge_evaluate::TickSummary {
        self.calls.now_in("EvaluateFunction");
        let mut event: Value =
            serde_json::from_str(&repo_file("infra/events/schedule.json")).unwrap();
        event["time"] = json!(self.engine.now());
        let event: EventBridgeEvent<Value> = serde_json::from_value(event).unwrap();
        let sweep = (&self.outbox, &SendBudget::unlimited());
        handle_schedule(&self.engine, Some(sweep), event)
            .await
            .unwrap()
    }

    /// The records Lambda would hand the send function since the last call.
    fn send_batch(&mut self) -> Value {
        let records: Vec<Value> = self
            .stream
            .read()
            .into_iter()
            .filter(passes_send_filter)
            .collect();
        json!({ "Records": records })
    }

    /// The sample two-way SMS notification of `infra/events/`, from `phone` saying `body`.
    async fn reply(&self, phone: &str, body: &str, id: &str) -> Value {
        self.calls.now_in("InboundFunction");
        let mut event: Value =
            serde_json::from_str(&repo_file("infra/events/sns-inbound-sms.json")).unwrap();
        let mut message: Value =
            serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        message["originationNumber"] = json!(phone);
        message["messageBody"] = json!(body);
        message["inboundMessageId"] = json!(id);
        event["Records"][0]["Sns"]["Message"] = json!(message.to_string());
        let summary = handle_sns(
            &self.engine,
            &self.publisher,
            serde_json::from_value(event).unwrap(),
        )
        .await
        .unwrap();
        serde_json::to_value(summary).unwrap()["actions"].clone()
    }

    /// The receipts function on one CloudWatch Logs subscription event.
    async fn receipts_from_logs(&self, event: LogsEvent) -> nudge_receipts::LogsReport {
        self.calls.now_in("ReceiptsFunction");
        handle_logs(&self.receipts, event).await.unwrap()
    }

    /// Every AWS call each function's code made is one its IAM policy in
    /// `infra/template.yaml` allows.
    fn assert_calls_allowed(&self) {
        let allowed = template_actions();
        let made = self.calls.made();
        assert!(!made.is_empty());
        for (function, action) in made {
            let policy = allowed
                .get(&function)
                .unwrap_or_else(|| panic!("no {function} in infra/template.yaml"));
            assert!(
                policy.contains(&action),
                "{function} calls {action}, which infra/template.yaml does not allow it: {policy:?}"
            );
        }
    }

    async fn send(&self, batch: &Value) -> Vec<String> {
        self.calls.now_in("SendFunction");
        let event: StreamEvent = serde_json::from_value(batch.clone()).unwrap();
        handle_stream(&self.outbox, &SendBudget::unlimited(), event)
            .await
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect()
    }
}

/// The texts moto accepted for a number.
fn texts_to(phone: &str) -> Vec<Value> {
    moto::data()["sns"]["SMS"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|sms| sms["phone_number"] == phone)
        .collect()
}

#[tokio::test]
async fn a_due_reminder_goes_from_the_schedule_through_the_stream_to_sns_once() {
    // 2026-03-09 10:00 in Shanghai is 02:00 UTC: trial-day-7 of a trial started on 03-02.
    let mut d = deploy(at(2026, 3, 8, 12, 0, 0)).await;
    d.customer("c-1001", "13800138001", "trial").await;
    d.customer("c-1002", "13800138002", "paid").await; // `when` fails: nothing sent
                                                       // The checkpoint starts at the first tick; the reminder is due two minutes later.
    d.clock.set(at(2026, 3, 9, 1, 58, 10));
    d.evaluate().await;
    let customers_only = d.send_batch();
    assert_eq!(customers_only["Records"].as_array().unwrap().len(), 0);

    d.clock.set(at(2026, 3, 9, 2, 0, 20));
    let summary = d.evaluate().await;
    assert_eq!(summary.minutes, 2);
    assert_eq!(summary.decisions.get("send"), Some(&1), "{summary:?}");
    // The same minute again (an overlapping or repeated invocation): nothing new.
    let again = d.evaluate().await;
    assert_eq!(again.minutes, 0);
    assert!(again.decisions.is_empty());

    let batch = d.send_batch();
    let records = batch["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "one queued message item: {batch:#}");
    assert_eq!(records[0]["eventName"], "INSERT");
    assert!(d.send(&batch).await.is_empty(), "no batch item failures");
    // Lambda redelivers the same batch (e.g. after a timeout): no second text.
    assert!(d.send(&batch).await.is_empty());

    let texts = texts_to("+8613800138001");
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert_eq!(
        texts[0]["message"],
        "【云笔记】王芳您好，试用已满7天，有问题回复1预约演示。回复TD退订"
    );
    assert!(texts_to("+8613800138002").is_empty());
    let requests = d.sns_requests.bodies();
    let actions: Vec<String> = requests.iter().map(|b| form(b)["Action"].clone()).collect();
    assert_eq!(
        actions,
        ["CheckIfPhoneNumberIsOptedOut", "Publish"],
        "the opt-out check, then one Publish"
    );
    let publishes = &requests[1..];
    assert_eq!(form(&publishes[0])["PhoneNumber"], "+8613800138001");
    let attributes = sms_attributes(&publishes[0]);
    assert_eq!(
        attributes["AWS.SNS.SMS.SMSType"], "Promotional",
        "care is promotional"
    );
    assert_eq!(attributes["AWS.SNS.SMS.SenderID"], "CLOUDNOTE");

    let customer = CustomerId::parse("c-1001").unwrap();
    let messages = d
        .store
        .customer_messages(&d.tenant, &customer, 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].status, MessageStatus::Sent);
    assert_eq!(
        messages[0].provider_id.as_deref(),
        texts[0]["message_id"].as_str()
    );
    // The claim and the result are MODIFY records the filter keeps away from the function.
    let after = d.send_batch();
    assert_eq!(after["Records"].as_array().unwrap().len(), 0, "{after:#}");

    // SNS logs the delivery (AWS's documented record, for this text) to its log group; the
    // stack's subscription filter hands the batch to the receipts function.
    let record = repo_file("infra/events/sns-sms-delivery-success.json")
        .replace(
            "34d9b400-c6dd-5444-820d-fbeb0f1f54cf",
            texts[0]["message_id"].as_str().unwrap(),
        )
        .replace("+1XXX5550100", "+8613800138001")
        .replace("2016-06-28 00:40:34.558", "2026-03-09 02:00:21.000");
    let group = logs::sns_success_group();
    let (stream, events) = logs::write_and_read(&group, &[record]);
    // Read from the wire's bytes, as the Lambda runtime does.
    let wire = logs::subscription_event(&group, &stream, "nudge-receipts", &events).to_string();
    let event: LogsEvent = serde_json::from_str(&wire).unwrap();
    let report = d.receipts_from_logs(event.clone()).await;
    assert_eq!((report.receipts.recorded, report.unreadable), (1, 0));
    // CloudWatch Logs retries a failed invocation: the same batch again changes nothing.
    let again = d.receipts_from_logs(event).await;
    assert_eq!(again.receipts.already_settled, 1);
    let delivered = d
        .store
        .customer_messages(&d.tenant, &customer, 10)
        .await
        .unwrap();
    assert_eq!(delivered[0].status, MessageStatus::Delivered);
    let report = delivered[0].delivery.as_ref().unwrap();
    assert_eq!(report.price_usd, Some(0.00645));
    assert_eq!(
        report.at,
        at(2026, 3, 9, 2, 0, 22) + TimeDelta::milliseconds(344)
    );
    let day = at(2026, 3, 9, 0, 0, 0).date_naive();
    let rows = d.store.stats(&d.tenant, day, day).await.unwrap();
    let delivery = DeliverySummary::of(&rows);
    assert_eq!((delivery.sent, delivery.delivered), (1, 1));
    assert_eq!(delivery.delivery_rate, Some(1.0));

    // A minute later the next tick finds nothing more to do.
    d.clock
        .set(at(2026, 3, 9, 2, 0, 20) + TimeDelta::minutes(1));
    let later = d.evaluate().await;
    assert_eq!((later.minutes, later.decisions.len()), (1, 0));
    d.assert_calls_allowed();
}

#[tokio::test]
async fn after_td_the_scheduled_marketing_text_is_not_sent() {
    // trial-expired-3-months (marketing): 3 months after a trial that ended on 03-16, at 10:30
    // in Shanghai, i.e. 2026-06-16 02:30 UTC (a Tuesday, no holiday).
    let mut d = deploy(at(2026, 6, 15, 12, 0, 0)).await;
    let trial = json!({"name": "王芳", "plan": "trial", "trial_ends_at": "2026-03-16"});
    d.customer_with("c-2001", "13800138011", trial.clone())
        .await;
    d.customer_with("c-2002", "13800138012", trial).await;
    let opted = CustomerId::parse("c-2002").unwrap();
    assert!(!d
        .store
        .customer_timers(&d.tenant, &opted)
        .await
        .unwrap()
        .is_empty());

    // c-2002 answers TD; SNS delivers the notification twice.
    assert_eq!(
        d.reply("+8613800138012", "TD", "in-td-1").await,
        json!({"opted_out": 1})
    );
    assert_eq!(
        d.reply("+8613800138012", "TD", "in-td-1").await,
        json!({"duplicate": 1})
    );
    assert!(d
        .store
        .customer_timers(&d.tenant, &opted)
        .await
        .unwrap()
        .is_empty());
    let confirmation = d.send_batch();
    assert!(d.send(&confirmation).await.is_empty());
    let to_opted = texts_to("+8613800138012");
    assert_eq!(to_opted.len(), 1, "{to_opted:#?}");
    assert!(
        to_opted[0]["message"].as_str().unwrap().contains("退订"),
        "{to_opted:#?}"
    );

    d.clock.set(at(2026, 6, 16, 2, 28, 0));
    d.evaluate().await;
    d.clock.set(at(2026, 6, 16, 2, 30, 10));
    let summary = d.evaluate().await;
    // One decision only: c-2001's text. c-2002 has no timer left to decide.
    assert_eq!(summary.decisions.len(), 1, "{summary:?}");
    assert_eq!(summary.decisions.get("send"), Some(&1), "{summary:?}");
    let batch = d.send_batch();
    assert!(d.send(&batch).await.is_empty());
    let to_subscribed = texts_to("+8613800138011");
    assert_eq!(to_subscribed.len(), 1);
    assert!(to_subscribed[0]["message"]
        .as_str()
        .unwrap()
        .contains("团队协作"));
    assert_eq!(texts_to("+8613800138012").len(), 1, "only the confirmation");
    d.assert_calls_allowed();
}

/// SNS's account opt-out list, as moto keeps it.
async fn sns_opted_out_numbers() -> Vec<String> {
    let sns = aws_sdk_sns::Client::new(&moto::sdk_config().await);
    let mut numbers = Vec::new();
    let mut next = None;
    loop {
        let page = sns
            .list_phone_numbers_opted_out()
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        numbers.extend(page.phone_numbers().iter().cloned());
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return numbers;
        }
    }
}

#[tokio::test]
async fn a_stop_answered_by_sns_and_a_start_in_nudge_leave_both_opt_out_lists_in_step() {
    // The tenant's number leaves opt-outs to AWS: AWS answers STOP and HELP and lists the
    // number; nudge records both and answers neither. +447420500600 is on moto's list, as
    // the number of a customer who replied STOP to an AWS-managed number is.
    let book = repo_file("infra/rulebooks/saas-lifecycle.yaml").replace(
        "rules:\n",
        "replies: {opt_outs_managed_by: provider}\nrules:\n",
    );
    let mut d = deploy_with(at(2026, 6, 15, 2, 0, 0), &book).await;
    let phone = "+447420500600";
    let number = nudge_core::domain::PhoneNumber::parse(phone, None).unwrap();
    d.customer("c-3001", phone, "trial").await;
    assert!(sns_opted_out_numbers().await.contains(&phone.to_string()));

    assert_eq!(
        d.reply(phone, "STOP", "in-stop-1").await,
        json!({"opted_out": 1})
    );
    assert_eq!(
        d.reply(phone, "HELP", "in-help-1").await,
        json!({"help": 1})
    );
    assert!(d.store.is_suppressed(&d.tenant, &number).await.unwrap());
    let answers = d.send_batch();
    assert!(d.send(&answers).await.is_empty());
    assert!(
        texts_to(phone).is_empty(),
        "AWS answered STOP and HELP, nudge did not"
    );

    // START: nudge takes the number off SNS's list, then off its own, and confirms.
    assert_eq!(
        d.reply(phone, "START", "in-start-1").await,
        json!({"opted_in": 1})
    );
    assert!(!sns_opted_out_numbers().await.contains(&phone.to_string()));
    assert!(!d.store.is_suppressed(&d.tenant, &number).await.unwrap());
    let customer = d
        .store
        .get_customer(&d.tenant, &CustomerId::parse("c-3001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!customer.is_opted_out());
    let confirmation = d.send_batch();
    assert!(d.send(&confirmation).await.is_empty());
    let texts = texts_to(phone);
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(
        texts[0]["message"].as_str().unwrap().contains("恢复订阅"),
        "{texts:#?}"
    );
    let day = at(2026, 6, 15, 0, 0, 0).date_naive();
    let rows = d.store.stats(&d.tenant, day, day).await.unwrap();
    let replies = rows.iter().find(|r| r.rule == "replies").unwrap();
    assert_eq!(replies.counters.get("opted_out"), Some(&1));
    assert_eq!(replies.counters.get("opted_in"), Some(&1));
    d.assert_calls_allowed();
}
