//! Counters: a rule's daily counters (spread over 8 items, summed when read) and the daily
//! free-text reply counts.
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use super::errors;
use super::items::{self, key_map, n, s, Item};
use super::keys::{self, kind};
use super::paging::{self, QuerySpec};
use super::tx::stats_expression;
use super::DynamoStore;
use nudge_core::domain::TenantId;
use nudge_core::error::{Error, Result};
use nudge_core::ports::{reply_text_key, CounterStore, Counters, ReplyTextCount, StatsRow};

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

#[async_trait]
impl CounterStore for DynamoStore {
    async fn add_stats(
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
    async fn stats(
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

    /// One UpdateItem: ADD 1 to the day's item of this text (created on first use, with a TTL).
    async fn add_reply_text(&self, tenant: &TenantId, day: NaiveDate, text: &str) -> Result<()> {
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
    async fn top_reply_texts(
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
