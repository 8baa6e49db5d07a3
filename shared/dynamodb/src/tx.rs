//! Building TransactWriteItems requests: each write is one `TransactWriteItem`, whose index in
//! the request is what a cancellation reason refers to.
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use std::collections::HashMap;

use super::errors;
use super::items::{key_map, n, s, Item};
use super::keys::{self, kind, Key};
use nudge_core::error::Result;
use nudge_core::ports::{Counters, MessageState};

/// DynamoDB's limit of items in one transaction.
pub const MAX_ITEMS: usize = 100;

/// A condition with its placeholders.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: Item,
}

impl Condition {
    /// The item must not exist yet.
    pub fn absent() -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk)".into(),
            names: HashMap::from([("#pk".into(), keys::PK.into())]),
            values: Item::new(),
        }
    }

    /// The item must not exist, or have expired by `now` (`expires_at`; DynamoDB's TTL
    /// deletes expired items only eventually, up to days later).
    pub fn absent_or_expired(now: chrono::DateTime<chrono::Utc>) -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk) OR #exp < :now".into(),
            names: HashMap::from([
                ("#pk".into(), keys::PK.into()),
                ("#exp".into(), keys::EXPIRES_AT.into()),
            ]),
            values: Item::from([(":now".into(), n(now.timestamp()))]),
        }
    }

    /// The stored `version` equals `version`.
    pub fn version_is(version: u64) -> Condition {
        Condition {
            expression: "#v = :expected".into(),
            names: HashMap::from([("#v".into(), keys::VERSION.into())]),
            values: Item::from([(":expected".into(), n(version))]),
        }
    }

    /// A message in exactly the state a writer read: its status and attempt count. (An item
    /// written before messages carried `attempts` counts as none.)
    pub fn message_in(state: MessageState) -> Condition {
        let expression = if state.attempts == 0 {
            "#st = :from AND (#at = :attempts OR attribute_not_exists(#at))"
        } else {
            "#st = :from AND #at = :attempts"
        };
        Condition {
            expression: expression.into(),
            names: HashMap::from([
                ("#st".into(), keys::STATUS.into()),
                ("#at".into(), keys::ATTEMPTS.into()),
            ]),
            values: Item::from([
                (":from".into(), s(state.status.as_str())),
                (":attempts".into(), n(state.attempts)),
            ]),
        }
    }

    /// Absent, or a pointer into another partition than `target_pk`.
    pub fn absent_or_pointing_elsewhere(target_pk: &str) -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk) OR #tpk <> :tpk".into(),
            names: HashMap::from([
                ("#pk".into(), keys::PK.into()),
                ("#tpk".into(), keys::TARGET_PK.into()),
            ]),
            values: Item::from([(":tpk".into(), s(target_pk))]),
        }
    }

    /// Absent, or a pointer still pointing at `target` (nobody moved it meanwhile).
    pub fn absent_or_pointing_at(target: &Key) -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk) OR (#tpk = :tpk AND #tsk = :tsk)".into(),
            names: HashMap::from([
                ("#pk".into(), keys::PK.into()),
                ("#tpk".into(), keys::TARGET_PK.into()),
                ("#tsk".into(), keys::TARGET_SK.into()),
            ]),
            values: Item::from([
                (":tpk".into(), s(&target.pk)),
                (":tsk".into(), s(&target.sk)),
            ]),
        }
    }
}

/// The writes of one transaction, in request order.
pub struct Writes {
    table: String,
    items: Vec<TransactWriteItem>,
    /// Estimated size of each written item (bytes), for the capacity estimates.
    pub sizes: Vec<usize>,
}

impl Writes {
    pub fn new(table: &str) -> Writes {
        Writes {
            table: table.to_string(),
            items: Vec::new(),
            sizes: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds a put; returns its index.
    pub fn put(&mut self, item: Item, condition: Option<Condition>) -> Result<usize> {
        self.sizes.push(super::items::size(&item));
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            put = put
                .condition_expression(c.expression)
                .set_expression_attribute_names(Some(c.names))
                .set_expression_attribute_values((!c.values.is_empty()).then_some(c.values));
        }
        let put = put.build().map_err(|e| errors::build("put", e))?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        Ok(self.items.len() - 1)
    }

    /// Adds a condition on another item, which the transaction does not write.
    pub fn check(&mut self, key: &Key, c: Condition) -> Result<usize> {
        self.sizes.push(0);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .condition_expression(c.expression)
            .set_expression_attribute_names(Some(c.names))
            .set_expression_attribute_values((!c.values.is_empty()).then_some(c.values))
            .build()
            .map_err(|e| errors::build("condition_check", e))?;
        self.items
            .push(TransactWriteItem::builder().condition_check(check).build());
        Ok(self.items.len() - 1)
    }

    pub fn delete(&mut self, key: &Key) -> Result<usize> {
        self.sizes.push(0);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .build()
            .map_err(|e| errors::build("delete", e))?;
        self.items
            .push(TransactWriteItem::builder().delete(delete).build());
        Ok(self.items.len() - 1)
    }

    /// Adds the stats counters of a day and rule (`ADD`, so concurrent writers sum up).
    pub fn add_stats(&mut self, key: &Key, counters: &Counters) -> Result<Option<usize>> {
        let Some(update) = stats_update(&self.table, key, counters)? else {
            return Ok(None);
        };
        self.sizes
            .push(key.pk.len() + key.sk.len() + 16 * counters.len());
        self.items
            .push(TransactWriteItem::builder().update(update).build());
        Ok(Some(self.items.len() - 1))
    }

    pub fn into_items(self) -> Vec<TransactWriteItem> {
        self.items
    }
}

/// The update expression adding `counters` to a stats item: `SET #k = :k ADD #c0 :c0, …`.
/// Counter names go through placeholders, so any name is safe.
pub fn stats_expression(counters: &Counters) -> (String, HashMap<String, String>, Item) {
    let mut names = HashMap::from([("#k".to_string(), keys::KIND.to_string())]);
    let mut values = Item::from([(":k".to_string(), s(kind::STATS))]);
    let mut adds = Vec::with_capacity(counters.len());
    for (i, (name, value)) in counters.iter().enumerate() {
        names.insert(format!("#c{i}"), name.clone());
        values.insert(format!(":c{i}"), n(value));
        adds.push(format!("#c{i} :c{i}"));
    }
    (
        format!("SET #k = :k ADD {}", adds.join(", ")),
        names,
        values,
    )
}

fn stats_update(table: &str, key: &Key, counters: &Counters) -> Result<Option<Update>> {
    if counters.is_empty() {
        return Ok(None);
    }
    let (expression, names, values) = stats_expression(counters);
    Update::builder()
        .table_name(table)
        .set_key(Some(key_map(key)))
        .update_expression(expression)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .map(Some)
        .map_err(|e| errors::build("update", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_counters_use_placeholders() {
        let counters = Counters::from([("sent".into(), 2), ("skipped_cap_per_week".into(), 1)]);
        let (expr, names, values) = stats_expression(&counters);
        assert_eq!(expr, "SET #k = :k ADD #c0 :c0, #c1 :c1");
        assert_eq!(names["#c0"], "sent");
        assert_eq!(names["#c1"], "skipped_cap_per_week");
        assert_eq!(values[":c0"], n(2));
    }
}
