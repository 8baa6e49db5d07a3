//! All-or-nothing batches of customers and events: every item is checked before anything is
//! written, and a batch with one failing item writes nothing. `POST /v1/customers:batch`,
//! event batches and the CLI's customer and event files share these rules; each edge says where an item
//! is in its own terms (`items[3]`, a line of a file).
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

use super::{
    validate_customer_input, validate_event_input, CustomerInput, Engine, EventInput, IngestReport,
};
use crate::domain::{ApiKey, Customer, CustomerId, EventId, TenantId};
use crate::error::{Error, Result};
use crate::ports::Store;
use crate::rulebook::Rulebook;

/// Why one item of a batch is refused: an [`ItemFault`] when checked against the rulebook
/// alone (a file), a [`Refusal`] when written by an API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError<F> {
    /// The item's position in the batch, from 0.
    pub index: usize,
    /// The offending field, as a path within the item (`phone`, `attributes.plan`).
    pub field: String,
    pub fault: F,
}

/// What the rulebook's checks find wrong with an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemFault {
    /// The field fails a semantic check (invalid phone, unknown time zone…); the text says why.
    Invalid(String),
    /// The id is that of the item at `previous`, the nearest earlier one with it.
    Repeated { previous: usize },
}

/// Why an API key's batch refuses an item: the rulebook's checks, or the key's reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Fault(ItemFault),
    /// The customer's region is not one of the key's, so the key may not write it.
    OutsideRegions {
        region: Option<String>,
    },
    /// The customer does not exist, or the key may not see it.
    CustomerNotFound {
        id: String,
    },
    /// The customer's event with this id (stored, or earlier in the batch) is of another
    /// type, `recorded`.
    IdReused {
        recorded: String,
    },
}

/// What an all-or-nothing batch came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Batch<T> {
    /// Every item passed its checks and was written: one result per item, in order.
    Written(Vec<T>),
    /// These items failed their checks (at most one error per item, in item order); nothing
    /// was written.
    Refused(Vec<ItemError<Refusal>>),
}

impl ItemError<ItemFault> {
    fn refusal(self) -> ItemError<Refusal> {
        ItemError {
            index: self.index,
            field: self.field,
            fault: Refusal::Fault(self.fault),
        }
    }
}

/// One customer of a written batch.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerWritten {
    pub customer: Customer,
    /// It did not exist before the batch.
    pub created: bool,
}

/// Checks customers against the rulebook without writing anything: each must be valid, and a
/// valid one may not repeat the id of an earlier valid one.
pub fn check_customers(
    rulebook: &Rulebook,
    inputs: &[CustomerInput],
) -> Result<Vec<ItemError<ItemFault>>> {
    let mut errors = Vec::new();
    let mut last_seen: HashMap<&str, usize> = HashMap::new();
    for (index, input) in inputs.iter().enumerate() {
        if let Some(error) = invalid(index, validate_customer_input(rulebook, input))? {
            errors.push(error);
        } else if let Some(previous) = last_seen.insert(&input.id, index) {
            errors.push(ItemError {
                index,
                field: "id".into(),
                fault: ItemFault::Repeated { previous },
            });
        }
    }
    Ok(errors)
}

/// Checks events without writing anything: each must be valid at `now`, about a customer
/// `exists` knows, and may not reuse an id of the customer's for another type of event than
/// `recorded` has for it, or than the id's first event in the batch (an id repeated with its
/// type is a duplicate, as alone). At most one error per event, in event order.
pub fn check_events(
    tenant: &TenantId,
    inputs: &[EventInput],
    now: DateTime<Utc>,
    exists: impl Fn(&str) -> bool,
    recorded: impl Fn(&str, &str) -> Option<String>,
) -> Result<Vec<ItemError<Refusal>>> {
    let mut errors = Vec::new();
    // The type first given to each (customer, event id) of the batch.
    let mut types: HashMap<(&str, &str), &str> = HashMap::new();
    for (index, input) in inputs.iter().enumerate() {
        if let Some(error) = invalid(index, validate_event_input(tenant, input, now))? {
            errors.push(error.refusal());
            continue;
        }
        if !exists(&input.customer_id) {
            errors.push(ItemError {
                index,
                field: "customer_id".into(),
                fault: Refusal::CustomerNotFound {
                    id: input.customer_id.clone(),
                },
            });
            continue;
        }
        let ids = (input.customer_id.as_str(), input.event_id.as_str());
        let earlier = match types.get(&ids) {
            Some(&earlier) => Some(earlier.to_string()),
            None => {
                types.insert(ids, &input.event_type);
                recorded(ids.0, ids.1)
            }
        };
        if let Some(recorded) = earlier.filter(|r| *r != input.event_type) {
            errors.push(ItemError {
                index,
                field: "event_id".into(),
                fault: Refusal::IdReused { recorded },
            });
        }
    }
    Ok(errors)
}

/// The item error of a failed semantic check. Any other error is not the item's fault and
/// fails the whole batch.
fn invalid(index: usize, checked: Result<()>) -> Result<Option<ItemError<ItemFault>>> {
    match checked {
        Ok(()) => Ok(None),
        Err(Error::Invalid { field, message }) => Ok(Some(ItemError {
            index,
            field,
            fault: ItemFault::Invalid(message),
        })),
        Err(other) => Err(other),
    }
}

impl<S: Store + ?Sized> Engine<S> {
    /// Writes customers of `key`'s tenant, all or none. Besides [`check_customers`], a key
    /// with regions may write only customers of its regions, and finds no customer stored in
    /// another region.
    pub async fn upsert_customers(
        &self,
        key: &ApiKey,
        inputs: Vec<CustomerInput>,
    ) -> Result<Batch<CustomerWritten>> {
        let tenant = &key.tenant;
        let checked = check_customers(self.rulebook(tenant)?, &inputs)?;
        let failed: HashSet<usize> = checked.iter().map(|e| e.index).collect();
        let mut errors: Vec<ItemError<Refusal>> =
            checked.into_iter().map(ItemError::refusal).collect();
        for (index, input) in inputs.iter().enumerate() {
            if failed.contains(&index) {
                continue;
            }
            if !key.sees_region(input.region.as_deref()) {
                errors.push(ItemError {
                    index,
                    field: "region".into(),
                    fault: Refusal::OutsideRegions {
                        region: input.region.clone(),
                    },
                });
            } else if key.is_regional() {
                let id = CustomerId::parse(input.id.clone())?;
                let stored = self.store.get_customer(tenant, &id).await?;
                if stored.is_some_and(|c| !key.sees_region(c.region.as_deref())) {
                    errors.push(ItemError {
                        index,
                        field: "id".into(),
                        fault: Refusal::CustomerNotFound {
                            id: input.id.clone(),
                        },
                    });
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.index);
            return Ok(Batch::Refused(errors));
        }
        let mut written = Vec::with_capacity(inputs.len());
        for input in inputs {
            let id = CustomerId::parse(input.id.clone())?;
            let created = self.store.get_customer(tenant, &id).await?.is_none();
            let customer = self.upsert_customer(tenant, input).await?;
            written.push(CustomerWritten { customer, created });
        }
        Ok(Batch::Written(written))
    }

    /// Ingests events of `key`'s tenant, all or none, by the rule of [`check_events`]: a
    /// customer the key may not see is one that does not exist.
    pub async fn ingest_events(
        &self,
        key: &ApiKey,
        inputs: Vec<EventInput>,
    ) -> Result<Batch<IngestReport>> {
        let tenant = &key.tenant;
        let now = self.now();
        // What the check needs from the store, read once per customer and per event id.
        // Ids that do not parse are refused by the check, so nothing is read for them.
        let mut visible: HashMap<String, bool> = HashMap::new();
        let mut recorded: HashMap<(String, String), Option<String>> = HashMap::new();
        for input in &inputs {
            let (Ok(customer), Ok(id)) = (
                CustomerId::parse(input.customer_id.clone()),
                EventId::parse(input.event_id.clone()),
            ) else {
                continue;
            };
            let sees = match visible.get(&input.customer_id) {
                Some(&sees) => sees,
                None => {
                    let stored = self.store.get_customer(tenant, &customer).await?;
                    let sees = stored.is_some_and(|c| key.sees_region(c.region.as_deref()));
                    visible.insert(input.customer_id.clone(), sees);
                    sees
                }
            };
            let ids = (input.customer_id.clone(), input.event_id.clone());
            if sees && !recorded.contains_key(&ids) {
                let stored = self
                    .store
                    .recorded_event_type(tenant, &customer, &id)
                    .await?;
                recorded.insert(ids, stored);
            }
        }
        let errors = check_events(
            tenant,
            &inputs,
            now,
            |customer| visible.get(customer).copied().unwrap_or(false),
            |customer, id| {
                recorded
                    .get(&(customer.to_string(), id.to_string()))
                    .cloned()
                    .flatten()
            },
        )?;
        if !errors.is_empty() {
            return Ok(Batch::Refused(errors));
        }
        let mut reports = Vec::with_capacity(inputs.len());
        for input in inputs {
            reports.push(self.ingest_event(tenant, input).await?);
        }
        Ok(Batch::Written(reports))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::rulebook;
    use serde_json::json;

    const RULES: &str = r#"
tenant: acme
brand: Acme
timezone: Europe/Paris
phone_region: FR
attributes: [birthday]
rules:
  - id: birthday
    category: care
    trigger: {anniversary: birthday, at: "10:00"}
    template: "Happy birthday!"
"#;

    fn customer(value: serde_json::Value) -> CustomerInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_customer_is_checked_and_each_error_names_its_item_and_field() {
        let rulebook = rulebook::parse(RULES, "rules.yaml").unwrap();
        let inputs = [
            customer(json!({"id": "c1", "phone": "0612345678"})),
            customer(json!({"id": "c2", "phone": "12"})),
            customer(json!({"id": "c3", "phone": "0612345679", "timezone": "Mars/Base"})),
            customer(json!({"id": "c4", "phone": "0612345670",
                "attributes": {"birthday": "someday"}})),
            customer(json!({"id": "c5", "phone": "0612345671"})),
        ];
        let errors = check_customers(&rulebook, &inputs).unwrap();
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.index, &*e.field)).collect();
        assert_eq!(
            found,
            vec![(1, "phone"), (2, "timezone"), (3, "attributes.birthday")]
        );
        assert!(errors
            .iter()
            .all(|e| matches!(e.fault, ItemFault::Invalid(_))));
    }

    #[test]
    fn a_repeated_id_names_the_nearest_earlier_item_with_it() {
        let rulebook = rulebook::parse(RULES, "rules.yaml").unwrap();
        let item = |id: &str, phone: &str| customer(json!({"id": id, "phone": phone}));
        let inputs = [
            item("c1", "0612345678"),
            item("c1", "12"),
            item("c1", "0612345679"),
            item("c2", "0612345670"),
            item("c1", "0612345671"),
        ];
        let errors = check_customers(&rulebook, &inputs).unwrap();
        assert_eq!(errors.len(), 3);
        assert!(matches!(errors[0].fault, ItemFault::Invalid(_)) && errors[0].index == 1);
        // The invalid item 1 is no earlier item with the id; item 4 names item 2, not 0.
        let repeats: Vec<(usize, &str, &ItemFault)> = errors[1..]
            .iter()
            .map(|e| (e.index, &*e.field, &e.fault))
            .collect();
        assert_eq!(
            repeats,
            vec![
                (2, "id", &ItemFault::Repeated { previous: 0 }),
                (4, "id", &ItemFault::Repeated { previous: 2 }),
            ]
        );
    }
}
