//! DueIndex: timers by minute, moves and deletes, the checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

pub async fn the_due_index_and_checkpoint(store: &dyn Store) {
    let t1 = timer("c1", "r1", "o1", at(2, 10, 0));
    let t2 = timer("c2", "r1", "o1", at(2, 10, 0));
    let t3 = timer("c1", "r2", "o1", at(2, 10, 1));
    store
        .put_timers(&[t1.clone(), t2.clone(), t3.clone()])
        .await
        .unwrap();
    let due = store.due_timers(at(2, 10, 0)).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.contains(&t1) && due.contains(&t2));
    assert_eq!(
        store.due_timers(at(2, 10, 1)).await.unwrap(),
        vec![t3.clone()]
    );
    assert!(store.due_timers(at(2, 10, 2)).await.unwrap().is_empty());
    // Moving a timer removes it from its old minute.
    store.reschedule_timer(&t1, at(3, 1, 0)).await.unwrap();
    assert_eq!(
        store.due_timers(at(2, 10, 0)).await.unwrap(),
        vec![t2.clone()]
    );
    let moved = store.due_timers(at(3, 1, 0)).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].due, at(3, 1, 0));
    store
        .delete_timers(&[t2.clone(), t2.clone()])
        .await
        .unwrap();
    assert!(store.due_timers(at(2, 10, 0)).await.unwrap().is_empty());
    let c1 = CustomerId::parse("c1").unwrap();
    assert_eq!(
        store.customer_timers(&tenant(), &c1).await.unwrap().len(),
        2
    );
    // The checkpoint only moves forward.
    assert_eq!(store.checkpoint().await.unwrap(), None);
    store.set_checkpoint(at(2, 10, 5)).await.unwrap();
    store.set_checkpoint(at(2, 10, 3)).await.unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(at(2, 10, 5)));
}

pub async fn many_large_timers_in_one_minute_are_all_returned(store: &dyn Store) {
    // ~1.5 MB of timers in one minute: adapters with paged reads must follow every page.
    let big = "x".repeat(12_000);
    let timers: Vec<Timer> = (0..130)
        .map(|i| {
            let mut t = timer(&format!("c{i:03}"), "r1", "o1", at(2, 10, 0));
            let mut e = event(&format!("e{i}"), &format!("c{i:03}"), at(2, 9, 0));
            e.properties.insert("blob".into(), json!(big));
            t.event = Some(e);
            t
        })
        .collect();
    store.put_timers(&timers).await.unwrap();
    let due = store.due_timers(at(2, 10, 0)).await.unwrap();
    assert_eq!(due.len(), 130);
}
