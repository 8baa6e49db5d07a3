//! What the measurement examples share: a DynamoDB request and capacity meter (an SDK
//! interceptor) and generated customers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // measurement tools: failing loudly is fine
#![allow(dead_code)]

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
use chrono::{TimeZone, Utc};
use nudge_core::adapters::dynamodb::item_size;
use nudge_core::domain::{Customer, CustomerId, PhoneNumber, TenantId};
use std::sync::{Arc, Mutex};

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

/// Asks every GetItem and TransactWriteItems for its consumed capacity, and estimates the
/// same from the sizes of the items written and read.
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
