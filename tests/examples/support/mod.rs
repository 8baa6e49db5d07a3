//! What the measurement examples share: a DynamoDB request and capacity meter (an SDK
//! interceptor), generated customers and their due timers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // measurement tools: failing loudly is fine
#![allow(dead_code)]

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use nudge_core::domain::{Customer, CustomerId, PhoneNumber, RuleId, TenantId, Timer};
use nudge_core::ports::Store;
use nudge_dynamodb::item_size;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Totals seen by the meter.
#[derive(Debug, Default)]
pub struct Meter {
    pub requests: u64,
    /// Requests per DynamoDB operation.
    pub operations: std::collections::BTreeMap<&'static str, u64>,
    pub reported_wcu: f64,
    pub reported_rcu: f64,
    pub estimated_wcu: f64,
    pub estimated_rcu: f64,
    pub gsi_wcu: f64,
}

/// Counts requests per operation, asks every GetItem and TransactWriteItems for its consumed
/// capacity, and estimates capacity from the sizes of the items written and read. GSI
/// replica writes of deleted or updated items are not estimated (they only leave an index).
#[derive(Debug, Clone)]
pub struct Metered(pub Arc<Mutex<Meter>>);

/// The DynamoDB operation of a request input (a type-erased box the SDK hands interceptors).
macro_rules! operation_of {
    ($input:expr) => {{
        use aws_sdk_dynamodb::operation as op;
        let input = &$input;
        if input.downcast_ref::<op::get_item::GetItemInput>().is_some() {
            "GetItem"
        } else if input.downcast_ref::<op::query::QueryInput>().is_some() {
            "Query"
        } else if input.downcast_ref::<op::put_item::PutItemInput>().is_some() {
            "PutItem"
        } else if input
            .downcast_ref::<op::update_item::UpdateItemInput>()
            .is_some()
        {
            "UpdateItem"
        } else if input
            .downcast_ref::<op::delete_item::DeleteItemInput>()
            .is_some()
        {
            "DeleteItem"
        } else if input
            .downcast_ref::<op::batch_get_item::BatchGetItemInput>()
            .is_some()
        {
            "BatchGetItem"
        } else if input
            .downcast_ref::<op::batch_write_item::BatchWriteItemInput>()
            .is_some()
        {
            "BatchWriteItem"
        } else if input
            .downcast_ref::<op::transact_write_items::TransactWriteItemsInput>()
            .is_some()
        {
            "TransactWriteItems"
        } else {
            "other"
        }
    }};
}

fn kb(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// WCU of writing `item` (1 per KB), and of its replicas in the indexes it is in.
fn written(item: &std::collections::HashMap<String, AttributeValue>) -> (f64, f64) {
    let wcu = kb(item_size(item), 1024);
    let indexed = ["GSI1PK", "GSI2PK"]
        .iter()
        .filter(|a| item.contains_key(**a))
        .count();
    (wcu, indexed as f64 * wcu)
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
        *meter.operations.entry(operation_of!(*input)).or_default() += 1;
        if let Some(get) = input.downcast_mut::<GetItemInput>() {
            get.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        } else if let Some(tx) = input.downcast_mut::<TransactWriteItemsInput>() {
            tx.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
            for op in tx.transact_items.iter().flatten() {
                // Transactions cost twice a standard write: 1 WCU per KB per item, × 2.
                let (wcu, gsi) = match &op.put {
                    Some(put) => written(&put.item),
                    // Deletes, updates (stats) and condition checks touch small items: 1 KB.
                    None => (1.0, 0.0),
                };
                meter.estimated_wcu += 2.0 * wcu;
                meter.gsi_wcu += gsi;
            }
        } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
            let (wcu, gsi) = put.item.as_ref().map_or((1.0, 0.0), written);
            meter.estimated_wcu += wcu;
            meter.gsi_wcu += gsi;
        } else if input.downcast_ref::<UpdateItemInput>().is_some()
            || input.downcast_ref::<DeleteItemInput>().is_some()
        {
            // The checkpoint and single-item deletes: small items.
            meter.estimated_wcu += 1.0;
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
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            // Strongly consistent, each item rounded up to 4 KB on its own.
            meter.estimated_rcu += batch
                .responses()
                .into_iter()
                .flat_map(|tables| tables.values().flatten())
                .map(|item| kb(item_size(item), 4096))
                .sum::<f64>();
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            // A Query rounds the total size of what it read up to 4 KB.
            let bytes: usize = query.items().iter().map(item_size).sum();
            meter.estimated_rcu += kb(bytes, 4096);
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

/// A DynamoDB client on `sdk` whose requests `meter` counts.
pub fn metered_client(
    sdk: &aws_config::SdkConfig,
    meter: &Arc<Mutex<Meter>>,
) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(Metered(meter.clone()))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// The emulator given by `AWS_ENDPOINT_URL`, else a moto server started for this process.
pub async fn emulator_config() -> aws_config::SdkConfig {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region("us-east-1")
                .endpoint_url(url)
                .load()
                .await
        }
        Err(_) => super::moto::sdk_config().await,
    }
}

pub fn customer(tenant: &TenantId, i: usize) -> Customer {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    // Ending in 1: the emulator reports numbers ending in 99 as opted out.
    let phone = PhoneNumber::parse(&format!("138{:07}1", i), Some("CN")).unwrap();
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

/// The sample SaaS lifecycle rulebook of `examples/`.
pub fn saas_rulebook() -> nudge_core::rulebook::Rulebook {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/saas-lifecycle.yaml");
    let source = std::fs::read_to_string(path).unwrap();
    nudge_core::rulebook::parse(&source, "saas-lifecycle.yaml").unwrap()
}

/// The measured minute: trial-day-7 of a trial started on 2026-03-02, 10:00 in Shanghai.
pub fn due_minute() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 2, 0, 0).unwrap()
}

/// Customer `i`: the first `due` start their trial on 03-02 (due in the measured minute), the
/// others on one of the 200 following days.
pub fn trial_start(i: usize, due: usize) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    if i < due {
        first
    } else {
        first + TimeDelta::days(1 + (i % 200) as i64)
    }
}

pub async fn seed(store: Arc<dyn Store>, tenant: &TenantId, due: usize, customers: usize) {
    let rule = RuleId::parse("trial-day-7").unwrap();
    let started = Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    let mut timers = Vec::new();
    for i in 0..customers {
        let mut c = customer(tenant, i);
        let start = trial_start(i, due);
        c.attributes
            .insert("trial_started_at".into(), start.to_string().into());
        timers.push(Timer {
            tenant: tenant.clone(),
            customer_id: c.id.clone(),
            rule: rule.clone(),
            occurrence: (start + TimeDelta::days(7)).to_string(),
            due: due_minute() + TimeDelta::days((start - trial_start(0, due)).num_days()),
            event: None,
            deferrals: 0,
        });
        let writer = store.clone();
        pending.spawn(async move { writer.put_customer(&c, None).await.unwrap() });
        if pending.len() >= 32 {
            pending.join_next().await.unwrap().unwrap();
        }
        if timers.len() == 1_000 {
            store
                .put_timers(&std::mem::take(&mut timers))
                .await
                .unwrap();
        }
    }
    while let Some(done) = pending.join_next().await {
        done.unwrap();
    }
    store.put_timers(&timers).await.unwrap();
    eprintln!(
        "  seeded {customers} customers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
