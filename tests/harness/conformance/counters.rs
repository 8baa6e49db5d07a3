//! CounterStore: counters per day and rule, free-text reply counts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

pub async fn stats_add_up_per_day_and_rule(store: &dyn Store) {
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let add = |n: i64| Counters::from([("sent".to_string(), n), ("skipped_cap".to_string(), 1)]);
    store
        .add_stats(&tenant(), day(2), "promo", &add(2))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(2), "promo", &add(3))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(3), "promo", &add(1))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(3), "welcome", &add(7))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(9), "welcome", &add(7))
        .await
        .unwrap();
    let rows = store.stats(&tenant(), day(2), day(3)).await.unwrap();
    let flat: Vec<(NaiveDate, &str, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.day,
                r.rule.as_str(),
                r.counters["sent"],
                r.counters["skipped_cap"],
            )
        })
        .collect();
    assert_eq!(
        flat,
        vec![
            (day(2), "promo", 5, 2),
            (day(3), "promo", 1, 1),
            (day(3), "welcome", 7, 1)
        ]
    );
}

pub async fn reply_texts_are_counted_per_day_and_ranked(store: &dyn Store) {
    use nudge_core::ports::{ReplyTextCount, MAX_REPLY_TEXT_CHARS};
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let other = TenantId::parse("other").unwrap();
    let long = "好".repeat(MAX_REPLY_TEXT_CHARS + 40);
    let adds: &[(u32, &str)] = &[
        (2, "几点发货"),
        (2, "几点发货"),
        (3, "几点发货"),
        (3, "WHERE IS MY ORDER"),
        (3, "THANKS"),
        (4, "THANKS"),
        (4, &long),
        (4, &long[..long.len() - 3]),
        (4, ""),
        (9, "THANKS"),
    ];
    for (d, text) in adds {
        store
            .add_reply_text(&tenant(), day(*d), text)
            .await
            .unwrap();
    }
    store
        .add_reply_text(&other, day(3), "几点发货")
        .await
        .unwrap();
    let count = |text: &str, count| ReplyTextCount {
        text: text.to_string(),
        count,
    };
    let cut = "好".repeat(MAX_REPLY_TEXT_CHARS);
    let top = store
        .top_reply_texts(&tenant(), day(2), day(4), 10)
        .await
        .unwrap();
    assert_eq!(
        top,
        vec![
            count("几点发货", 3),
            count("THANKS", 2),
            count(&cut, 2),
            count("WHERE IS MY ORDER", 1),
        ]
    );
    let top = store
        .top_reply_texts(&tenant(), day(3), day(3), 2)
        .await
        .unwrap();
    assert_eq!(top, vec![count("THANKS", 1), count("WHERE IS MY ORDER", 1)]);
    let top = store
        .top_reply_texts(&other, day(1), day(30), 10)
        .await
        .unwrap();
    assert_eq!(top, vec![count("几点发货", 1)]);
    assert!(store
        .top_reply_texts(&tenant(), day(5), day(8), 10)
        .await
        .unwrap()
        .is_empty());
}
