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

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use chrono::{TimeDelta, TimeZone, Utc};
use nudge_core::adapters::dynamodb::{create_table, item_size, DynamoStore};
use nudge_core::domain::{
    Category, Customer, CustomerId, Message, MessageId, MessageStatus, PhoneNumber, RuleId,
    SentEntry, TenantId, Timer,
};
use nudge_core::ports::{CommitOutcome, Counters, SendCommit, Store};
use std::sync::{Arc, Mutex};

/// Totals seen by the meter.
#[derive(Debug, Default)]
struct Meter {
    requests: u64,
    reported_wcu: f64,
    reported_rcu: f64,
    estimated_wcu: f64,
    estimated_rcu: f64,
    gsi_wcu: f64,
}

/// Asks every GetItem and TransactWriteItems for its consumed capacity, and estimates the
/// same from the sizes of the items written and read.
#[derive(Debug, Clone)]
struct Metered(Arc<Mutex<Meter>>);

fn kb(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

impl Intercept for Metered {
    fn name(&self) -> &'static str {
        "capacity-meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut meter = self.0.lock().unwrap();
        meter.requests += 1;
        let input = context.input_mut();
        if let Some(get) = input.downcast_mut::<GetItemInput>() {
            get.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        } else if let Some(tx) = input.downcast_mut::<TransactWriteItemsInput>() {
            tx.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
            for op in tx.transact_items.iter().flatten() {
                // Transactions cost twice a standard write: 1 WCU per KB per item, × 2.
                let (wcu, gsi) = if let Some(put) = &op.put {
                    let size = item_size(&put.item);
                    let indexed = ["GSI1PK", "GSI2PK"]
                        .iter()
                        .filter(|a| put.item.contains_key(**a))
                        .count();
                    (kb(size, 1024), indexed as f64 * kb(size, 1024))
                } else {
                    // Deletes and the stats update touch small items: 1 KB each.
                    (1.0, 0.0)
                };
                meter.estimated_wcu += 2.0 * wcu;
                meter.gsi_wcu += gsi;
            }
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let mut meter = self.0.lock().unwrap();
        if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            meter.reported_rcu += get
                .consumed_capacity()
                .and_then(|c| c.capacity_units())
                .unwrap_or(0.0);
            // Strongly consistent: 1 RCU per 4 KB.
            meter.estimated_rcu += get.item().map_or(1.0, |i| kb(item_size(i), 4096));
        } else if let Some(tx) = output.downcast_ref::<TransactWriteItemsOutput>() {
            meter.reported_wcu += tx
                .consumed_capacity()
                .iter()
                .filter_map(|c| c.capacity_units())
                .sum::<f64>();
        }
        Ok(())
    }
}

fn customer(tenant: &TenantId, i: usize) -> Customer {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let phone = PhoneNumber::parse(&format!("138{:08}", i), Some("CN")).unwrap();
    let mut c = Customer::new(
        tenant.clone(),
        CustomerId::parse(format!("cust-{i:06}")).unwrap(),
        phone,
        now,
    );
    for (name, value) in [
        ("name", "王芳"),
        ("plan", "trial"),
        ("trial_started_at", "2026-02-22"),
        ("city", "杭州"),
    ] {
        c.attributes.insert(name.into(), value.into());
    }
    c.record_activity("app.opened", now);
    c
}

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
    let sdk = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region("us-east-1")
                .endpoint_url(url)
                .load()
                .await
        }
        Err(_) => moto::sdk_config().await,
    };
    let meter = Arc::new(Mutex::new(Meter::default()));
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(Metered(meter.clone()))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
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
