//! What one sent text costs on DynamoDB, from decision to delivery, through the real code:
//! N customers whose trial-day-7 reminder is due in one minute; the evaluate tick decides
//! them (`Engine::tick`), then the send handler (`handle_stream`) gets the table's own stream
//! records of the queued messages (read through the emulator's DynamoDB Streams API and
//! filtered as the template filters them) and publishes with SNS on the emulator; then each
//! text's delivery receipt is recorded as the receipts function records it.
//!
//! Prints requests per text per operation, and capacity units: as reported by the service
//! (`ReturnConsumedCapacity::TOTAL`) and as computed from item sizes.
//!
//! ```sh
//! cargo run -p nudge-tests --example dynamo_costs -- 200        # starts moto itself
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool: failing loudly is fine

use nudge_core::ports::MessageStore;
use nudge_tests::moto;
mod support;

use aws_lambda_events::dynamodb::Event as StreamEvent;
use chrono::TimeDelta;
use nudge_core::clock::ManualClock;
use nudge_core::domain::{DeliveryOutcome, DeliveryReport, MessageStatus, Receipt, TenantId};
use nudge_core::ports::Clock;
use nudge_core::service::{Engine, Outbox, ReceiptApplied, Receipts};
use nudge_dynamodb::{create_table, DynamoStore};
use nudge_eventbridge::EventBridgePublisher;
use nudge_send::{handle_stream, SendBudget};
use nudge_sns::SnsSender;
use serde_json::json;
use std::sync::{Arc, Mutex};
use support::{due_minute, emulator_config, metered_client, saas_rulebook, seed, Meter};

fn report(phase: &str, meter: &Meter, texts: usize) {
    let per = |v: f64| v / texts as f64;
    let operations: Vec<String> = meter
        .operations
        .iter()
        .map(|(op, count)| format!("{op} {:.2}", per(*count as f64)))
        .collect();
    println!(
        "  {phase:<7} {:>5.2} requests per text ({})",
        per(meter.requests as f64),
        operations.join(", ")
    );
    println!(
        "         computed: {:.2} WCU + {:.2} WCU GSI replicas, {:.2} RCU per text; reported: {:.2} WCU, {:.2} RCU",
        per(meter.estimated_wcu),
        per(meter.gsi_wcu),
        per(meter.estimated_rcu),
        per(meter.reported_wcu),
        per(meter.reported_rcu)
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N must be a number"))
        .unwrap_or(200);
    let sdk = emulator_config().await;
    let meter = Arc::new(Mutex::new(Meter::default()));
    let client = metered_client(&sdk, &meter);
    let table = moto::unique_name("nudge-costs");
    create_table(&client, &table).await.unwrap();
    let store = Arc::new(DynamoStore::new(client, &table));
    let tenant = TenantId::parse("cloudnote").unwrap();
    seed(store.clone(), &tenant, n, n).await;

    let clock = Arc::new(ManualClock::new(due_minute() - TimeDelta::minutes(1)));
    let engine = Arc::new(Engine::new(
        store.clone(),
        clock.clone(),
        vec![saas_rulebook()],
    ));
    engine.tick().await.unwrap(); // sets the checkpoint to the minute before
    clock.set(due_minute() + TimeDelta::seconds(5));
    // The emulator's GetRecords slows down with the stream's length: read only the tick's.
    let mut stream = moto::StreamReader::open_at(store.client(), &table, "LATEST").await;

    *meter.lock().unwrap() = Meter::default();
    let decided = engine.tick().await.unwrap();
    let tick = std::mem::take(&mut *meter.lock().unwrap());
    let sends = decided
        .decisions
        .iter()
        .filter(|d| d.outcome.kind() == "send")
        .count();
    assert_eq!(sends, n, "every due timer decided to send");

    let mut records = Vec::new();
    loop {
        let page = stream.read();
        if page.is_empty() {
            break;
        }
        records.extend(page.into_iter().filter(moto::passes_send_filter));
    }
    assert_eq!(records.len(), n, "one queued message record per decision");
    let sns = aws_sdk_sns::Client::new(&sdk);
    let bus = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), "default");
    let outbox = Outbox::new(
        engine.clone(),
        Arc::new(SnsSender::new(sns, Some("CLOUDNOTE".into()), None)),
        Arc::new(bus),
    );
    let event: StreamEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let response = handle_stream(&outbox, &SendBudget::unlimited(), event).await;
    assert!(response.batch_item_failures.is_empty());
    let send = std::mem::take(&mut *meter.lock().unwrap());
    let mut sent = Vec::new();
    for decision in &decided.decisions {
        let messages = store
            .customer_messages(&tenant, &decision.customer_id, 1)
            .await
            .unwrap();
        assert_eq!(messages[0].status, MessageStatus::Sent);
        sent.push(messages[0].provider_id.clone().expect("SNS accepted it"));
    }

    let bus = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), "default");
    let receipts = Receipts::new(engine.clone(), Arc::new(bus));
    *meter.lock().unwrap() = Meter::default();
    for provider_id in sent {
        let receipt = Receipt {
            provider: "sns".into(),
            provider_id,
            outcome: DeliveryOutcome::Delivered,
            report: DeliveryReport {
                at: clock.now(),
                provider_status: "Message has been accepted by phone carrier".into(),
                price_usd: Some(0.00645),
                parts: Some(1),
                carrier: None,
            },
        };
        assert_eq!(
            receipts.record(&receipt).await.unwrap(),
            ReceiptApplied::Recorded
        );
    }
    let receipt = std::mem::take(&mut *meter.lock().unwrap());

    println!(
        "dynamo_costs: {n} texts due in one minute, decided by one tick and sent from the stream"
    );
    report("tick", &tick, n);
    report("send", &send, n);
    report("receipt", &receipt, n);
    let mut total = tick;
    for phase in [send, receipt] {
        total.requests += phase.requests;
        for (op, count) in phase.operations {
            *total.operations.entry(op).or_default() += count;
        }
        total.estimated_wcu += phase.estimated_wcu;
        total.gsi_wcu += phase.gsi_wcu;
        total.estimated_rcu += phase.estimated_rcu;
        total.reported_wcu += phase.reported_wcu;
        total.reported_rcu += phase.reported_rcu;
    }
    report("total", &total, n);
    if total.reported_wcu == 0.0 {
        println!(
            "  note: the emulator reports no write capacity for TransactWriteItems; use the computed \
             figures: 1 WCU per KB per item written (condition checks, deletes and counter updates \
             taken as 1 KB), doubled in transactions; GSI replicas 1 WCU per KB; 1 RCU per 4 KB \
             strongly consistent read"
        );
    }
}
