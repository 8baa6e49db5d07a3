//! Reads and writes that come in pages: Query (follows `LastEvaluatedKey`), BatchGetItem and
//! BatchWriteItem (resubmit what DynamoDB left unprocessed, with a short backoff).
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, WriteRequest};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::Duration;

use super::errors;
use super::items::{key_map, Item};
use super::keys::{self, Key};
use nudge_core::error::{Error, Result};

const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;
/// Unprocessed items mean throttling; give up (an error the caller may retry) after this many
/// resubmissions.
const UNPROCESSED_ATTEMPTS: u32 = 8;

/// One Query: the key condition with its placeholders.
pub struct QuerySpec {
    pub index: Option<&'static str>,
    pub key_condition: String,
    pub names: HashMap<String, String>,
    pub values: Item,
    pub forward: bool,
    /// Items per page; None lets DynamoDB fill 1 MB pages.
    pub page_size: Option<i32>,
    /// Attributes to read; None reads whole items.
    pub projection: Option<Vec<&'static str>>,
}

impl QuerySpec {
    /// Every item of a partition whose sort key starts with `prefix`.
    pub fn prefix(pk: &str, prefix: &str) -> QuerySpec {
        QuerySpec {
            index: None,
            key_condition: "#pk = :pk AND begins_with(#sk, :prefix)".into(),
            names: HashMap::from([
                ("#pk".into(), keys::PK.into()),
                ("#sk".into(), keys::SK.into()),
            ]),
            values: Item::from([
                (":pk".into(), super::items::s(pk)),
                (":prefix".into(), super::items::s(prefix)),
            ]),
            forward: true,
            page_size: None,
            projection: None,
        }
    }

    /// Every item of a partition.
    pub fn partition(pk: &str) -> QuerySpec {
        QuerySpec {
            index: None,
            key_condition: "#pk = :pk".into(),
            names: HashMap::from([("#pk".into(), keys::PK.into())]),
            values: Item::from([(":pk".into(), super::items::s(pk))]),
            forward: true,
            page_size: None,
            projection: None,
        }
    }
}

/// Runs a Query page by page until the partition is exhausted or `enough` says so (checked
/// after each page with everything read so far). Base-table reads are strongly consistent.
pub async fn query(
    client: &Client,
    table: &str,
    spec: QuerySpec,
    enough: impl Fn(&[Item]) -> bool,
) -> Result<Vec<Item>> {
    let mut names = spec.names.clone();
    let projection = spec.projection.as_ref().map(|attributes| {
        let placeholders: Vec<String> = (0..attributes.len()).map(|i| format!("#p{i}")).collect();
        for (placeholder, name) in placeholders.iter().zip(attributes) {
            names.insert(placeholder.clone(), name.to_string());
        }
        placeholders.join(", ")
    });
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .set_index_name(spec.index.map(str::to_string))
            .key_condition_expression(&spec.key_condition)
            .set_expression_attribute_names(Some(names.clone()))
            .set_projection_expression(projection.clone())
            .set_expression_attribute_values(Some(spec.values.clone()))
            .scan_index_forward(spec.forward)
            .set_consistent_read(spec.index.is_none().then_some(true))
            .set_limit(spec.page_size)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| errors::store("query", e))?;
        start = page.last_evaluated_key().cloned();
        out.extend(page.items.unwrap_or_default());
        if start.is_none() || enough(&out) {
            return Ok(out);
        }
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(25u64 << attempt.min(6))).await;
}

/// Strongly consistent BatchGetItem of `keys` (duplicates removed), projected on `projection`
/// (attribute names, not reserved-word safe placeholders).
pub async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[Key],
    projection: &[&str],
) -> Result<Vec<Item>> {
    let mut unique: Vec<&Key> = keys.iter().collect();
    unique.sort();
    unique.dedup();
    let names: HashMap<String, String> = projection
        .iter()
        .enumerate()
        .map(|(i, name)| (format!("#p{i}"), name.to_string()))
        .collect();
    let projection = (0..projection.len())
        .map(|i| format!("#p{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    for chunk in unique.chunks(BATCH_GET_MAX) {
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(chunk.iter().map(|k| key_map(k)).collect()))
            .consistent_read(true);
        if !projection.is_empty() {
            request = request
                .projection_expression(&projection)
                .set_expression_attribute_names(Some(names.clone()));
        }
        let mut pending = Some(HashMap::from([(
            table.to_string(),
            request
                .build()
                .map_err(|e| errors::build("batch_get_item", e))?,
        )]));
        let mut attempt = 0;
        while let Some(request_items) = pending.take() {
            let page = client
                .batch_get_item()
                .set_request_items(Some(request_items))
                .send()
                .await
                .map_err(|e| errors::store("batch_get_item", e))?;
            if let Some(mut responses) = page.responses {
                out.extend(responses.remove(table).unwrap_or_default());
            }
            pending = page
                .unprocessed_keys
                .filter(|u| u.values().any(|k| !k.keys().is_empty()));
            if pending.is_some() {
                attempt += 1;
                if attempt > UNPROCESSED_ATTEMPTS {
                    return Err(Error::store(
                        "dynamodb batch_get_item: keys left unprocessed (throttled)",
                    ));
                }
                backoff(attempt).await;
            }
        }
    }
    Ok(out)
}

/// Deletes `keys` (duplicates removed) with BatchWriteItem, 25 at a time.
pub async fn batch_delete(client: &Client, table: &str, keys: &[Key]) -> Result<()> {
    let mut unique: Vec<&Key> = keys.iter().collect();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(BATCH_WRITE_MAX) {
        let requests = chunk
            .iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(key_map(k)))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| errors::build("batch_write_item", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut pending = Some(HashMap::from([(table.to_string(), requests)]));
        let mut attempt = 0;
        while let Some(request_items) = pending.take() {
            let page = client
                .batch_write_item()
                .set_request_items(Some(request_items))
                .send()
                .await
                .map_err(|e| errors::store("batch_write_item", e))?;
            pending = page
                .unprocessed_items
                .filter(|u| u.values().any(|r| !r.is_empty()));
            if pending.is_some() {
                attempt += 1;
                if attempt > UNPROCESSED_ATTEMPTS {
                    return Err(Error::store(
                        "dynamodb batch_write_item: items left unprocessed (throttled)",
                    ));
                }
                backoff(attempt).await;
            }
        }
    }
    Ok(())
}
