//! What one "send" decision costs on DynamoDB: the decision path is `get_customer` then
//! `commit_send` (dedupe + customer ledger + message + lookup + consumed timer + stats in one
//! transaction). Commits N sends through the real adapter and prints requests and capacity
//! units per sent message: as reported by the service (`ReturnConsumedCapacity::TOTAL`) and as
//! computed from item sizes.
//!
//! ```sh
//! cargo run -p nudge-core --example dynamo_costs -- 200        # starts moto itself
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 cargo run -p nudge-core --example dynamo_costs
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool: failing loudly is fine

#[path = "../tests/common/moto.rs"]
mod moto;
mod support;

use chrono::{TimeDelta, TimeZone, Utc};
use nudge_core::adapters::dynamodb::{create_table, DynamoStore};
use nudge_core::domain::{
    Category, Customer, Message, MessageId, MessageStatus, RuleId, SentEntry, TenantId, Timer,
};
use nudge_core::ports::{CommitOutcome, Counters, SendCommit, Store};
use std::sync::{Arc, Mutex};
use support::{customer, emulator_config, metered_client, Meter};

fn decision(c: &Customer, timer: &Timer) -> SendCommit {
    let now = timer.due;
    let key = Message::dedupe_key(&timer.rule, &c.id, &timer.occurrence);
    let mut updated = c.clone();
    updated.record_send(
        SentEntry {
            at: now,
            category: Category::Care,
            rule: timer.rule.clone(),
        },
        now - TimeDelta::days(30),
    );
    SendCommit {
        message: Message {
            tenant: c.tenant.clone(),
            id: MessageId::parse(nudge_core::service::message_id("m", &key)).unwrap(),
            customer_id: c.id.clone(),
            rule: timer.rule.clone(),
            category: Category::Care,
            occurrence: timer.occurrence.clone(),
            phone: c.phone.clone(),
            text: "【阿克米】王芳您好，试用已满7天，有问题回复1预约演示。回复TD退订".into(),
            segments: 1,
            status: MessageStatus::Queued,
            reason: None,
            created_at: now,
            updated_at: now,
            provider_id: None,
            attempts: 0,
            next_attempt_at: None,
            ignores_suppression: false,
        },
        customer: updated,
        expected_version: c.version,
        timer: Some(timer.clone()),
        stats: Counters::from([("queued".to_string(), 1)]),
    }
}

#[tokio::main(flavor = "current_thread")]
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
    let store = DynamoStore::new(client, &table);
    let tenant = TenantId::parse("acme").unwrap();
    let due = Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap();

    let mut timers = Vec::with_capacity(n);
    for i in 0..n {
        let c = customer(&tenant, i);
        store.put_customer(&c, None).await.unwrap();
        timers.push(Timer {
            tenant: tenant.clone(),
            customer_id: c.id.clone(),
            rule: RuleId::parse("trial-day-7").unwrap(),
            occurrence: "2026-03-01".into(),
            due,
            event: None,
            deferrals: 0,
        });
    }
    store.put_timers(&timers).await.unwrap();
    *meter.lock().unwrap() = Meter::default();

    let mut sizes = (0, 0);
    for timer in &timers {
        let c = store
            .get_customer(&tenant, &timer.customer_id)
            .await
            .unwrap()
            .unwrap();
        let commit = decision(&c, timer);
        sizes = (
            serde_json::to_string(&commit.customer).unwrap().len(),
            serde_json::to_string(&commit.message).unwrap().len(),
        );
        assert_eq!(
            store.commit_send(&commit).await.unwrap(),
            CommitOutcome::Committed
        );
    }
    let m = meter.lock().unwrap();
    let per = |v: f64| v / n as f64;
    println!("dynamo_costs: {n} sends (get_customer + commit_send with a consumed timer)");
    println!(
        "  customer body ≈ {} B, message body ≈ {} B",
        sizes.0, sizes.1
    );
    println!(
        "  requests per send:            {:.2}",
        m.requests as f64 / n as f64
    );
    println!(
        "  reported by the service:      {:.2} WCU, {:.2} RCU per send",
        per(m.reported_wcu),
        per(m.reported_rcu)
    );
    println!(
        "  computed from item sizes:     {:.2} WCU (transactional, ×2) + {:.2} WCU GSI replicas, {:.2} RCU per send",
        per(m.estimated_wcu),
        per(m.gsi_wcu),
        per(m.estimated_rcu)
    );
    if m.reported_wcu == 0.0 {
        println!(
            "  note: the service reported no write capacity for TransactWriteItems (moto does \
             not; it also reports a fixed 0.5 RCU per GetItem). Use the computed figures: \
             1 WCU per KB per item written, doubled in transactions; GSI replica writes \
             1 WCU per KB; 1 RCU per 4 KB strongly consistent read"
        );
    }
}
