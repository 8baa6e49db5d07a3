//! The scheduler checkpoint, the suppression list, the stats counters and the free-text reply
//! counts.
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use super::errors;
use super::items::{self, key_map, n, s, Item};
use super::keys::{self, kind};
use super::paging::{self, QuerySpec};
use super::tx::stats_expression;
use super::DynamoStore;
use nudge_core::domain::{PhoneNumber, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{reply_text_key, Counters, ReplyTextCount, StatsRow};

impl DynamoStore {
    pub(super) async fn read_checkpoint(&self) -> Result<Option<DateTime<Utc>>> {
        self.get(&keys::checkpoint())
            .await?
            .map(|item| items::checkpoint_minute(&item))
            .transpose()
    }

    /// Forward only: the condition rejects an older or equal minute, which is not an error.
    pub(super) async fn advance_checkpoint(&self, minute: DateTime<Utc>) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::checkpoint())))
            .update_expression("SET #m = :m, #k = :k")
            .condition_expression("attribute_not_exists(#pk) OR #m < :m")
            .set_expression_attribute_names(Some(HashMap::from([
                ("#m".into(), keys::MINUTE.into()),
                ("#k".into(), keys::KIND.into()),
                ("#pk".into(), keys::PK.into()),
            ])))
            .set_expression_attribute_values(Some(Item::from([
                (":m".into(), n(minute.timestamp())),
                (":k".into(), s(kind::CHECKPOINT)),
            ])))
            .send()
            .await;
        errors::written("update_item", result).map(|_| ())
    }

    /// One conditional UpdateItem: creates the entry, or — for the same `reference` — finds
    /// it already made (keeping its first time and source).
    pub(super) async fn suppress_number(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
        at: DateTime<Utc>,
        source: &str,
        reference: Option<&str>,
    ) -> Result<bool> {
        let mut names = HashMap::from([
            ("#pk".to_string(), keys::PK.to_string()),
            ("#k".into(), keys::KIND.into()),
            ("#at".into(), "at".into()),
            ("#src".into(), "source".into()),
        ]);
        let mut values = Item::from([
            (":k".to_string(), s(kind::SUPPRESSION)),
            (":at".into(), s(keys::ts(at))),
            (":src".into(), s(source)),
        ]);
        let mut set =
            "SET #k = :k, #at = if_not_exists(#at, :at), #src = if_not_exists(#src, :src)"
                .to_string();
        let mut condition = "attribute_not_exists(#pk)".to_string();
        if let Some(reference) = reference {
            names.insert("#ref".into(), keys::REFERENCE.into());
            values.insert(":ref".into(), s(reference));
            set.push_str(", #ref = :ref");
            condition.push_str(" OR #ref = :ref");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::suppression(tenant, phone))))
            .update_expression(set)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        errors::written("update_item", result)
    }

    pub(super) async fn add_counters(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        rule: &str,
        counters: &Counters,
    ) -> Result<()> {
        if counters.is_empty() {
            return Ok(());
        }
        let (expression, names, values) = stats_expression(counters);
        // Writers of one process take the items in turn.
        let turn = self.stats_turn.fetch_add(1, Ordering::Relaxed).to_string();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::stats(tenant, day, rule, &turn))))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| errors::store("update_item", e))?;
        Ok(())
    }

    /// One Query per day of the range (a day's partition holds the spread items of each rule);
    /// rows in rule order, each the sum of its rule's items.
    pub(super) async fn stats_rows(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StatsRow>> {
        let mut rows = Vec::new();
        for day in from.iter_days().take_while(|d| *d <= to) {
            let spec = QuerySpec::partition(&keys::stats_pk(tenant, day));
            let mut per_rule: BTreeMap<String, Counters> = BTreeMap::new();
            for item in paging::query(&self.client, &self.table, spec, |_| false).await? {
                let (rule, counters) = stats_item(&item)?;
                let sums = per_rule.entry(rule).or_default();
                for (name, value) in counters {
                    *sums.entry(name).or_default() += value;
                }
            }
            rows.extend(per_rule.into_iter().map(|(rule, counters)| StatsRow {
                day,
                rule,
                counters,
            }));
        }
        Ok(rows)
    }
}

impl DynamoStore {
    /// One UpdateItem: ADD 1 to the day's item of this text (created on first use, with a TTL).
    pub(super) async fn count_reply_text(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        text: &str,
    ) -> Result<()> {
        let text = reply_text_key(text);
        if text.is_empty() {
            return Ok(());
        }
        let midnight = day.and_time(chrono::NaiveTime::MIN).and_utc();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::reply_text(tenant, day, text))))
            .update_expression("SET #k = :k, #e = :e ADD #c :one")
            .set_expression_attribute_names(Some(HashMap::from([
                ("#k".into(), keys::KIND.into()),
                ("#e".into(), keys::EXPIRES_AT.into()),
                ("#c".into(), keys::COUNT.into()),
            ])))
            .set_expression_attribute_values(Some(Item::from([
                (":k".into(), s(kind::REPLY_TEXT)),
                (
                    ":e".into(),
                    items::expires(midnight, items::REPLY_TEXT_TTL_DAYS),
                ),
                (":one".into(), n(1)),
            ])))
            .send()
            .await
            .map_err(|e| errors::store("update_item", e))?;
        Ok(())
    }

    /// One paginated Query per day of the range, summed per text, then ranked.
    pub(super) async fn reply_text_ranking(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
        limit: usize,
    ) -> Result<Vec<ReplyTextCount>> {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for day in from.iter_days().take_while(|d| *d <= to) {
            let mut spec =
                QuerySpec::prefix(&keys::reply_texts_pk(tenant, day), keys::REPLY_TEXT_PREFIX);
            spec.projection = Some(vec![keys::SK, keys::COUNT]);
            for item in paging::query(&self.client, &self.table, spec, |_| false).await? {
                let text = items::get_s(&item, keys::SK)
                    .and_then(|sk| sk.strip_prefix(keys::REPLY_TEXT_PREFIX))
                    .ok_or_else(|| Error::store("reply text item without text"))?;
                let count = items::get_n(&item, keys::COUNT)
                    .ok_or_else(|| Error::store("reply text item without count"))?;
                *totals.entry(text.to_string()).or_default() += count;
            }
        }
        let mut ranked: Vec<ReplyTextCount> = totals
            .into_iter()
            .map(|(text, count)| ReplyTextCount { text, count })
            .collect();
        ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
        ranked.truncate(limit);
        Ok(ranked)
    }
}

/// The rule and counters of one stats item: every numeric attribute is a counter.
fn stats_item(item: &Item) -> Result<(String, Counters)> {
    let sk = items::get_s(item, keys::SK).ok_or_else(|| Error::store("stats item without rule"))?;
    let mut counters = Counters::new();
    for (name, value) in item {
        if let Ok(number) = value.as_n() {
            let number = number
                .parse()
                .map_err(|_| Error::Store(format!("stats counter {name} is not an integer")))?;
            counters.insert(name.clone(), number);
        }
    }
    Ok((keys::stats_rule(sk).to_string(), counters))
}
