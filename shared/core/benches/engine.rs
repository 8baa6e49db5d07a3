//! Throughput of the hot paths: one rule decision for one customer (CEL conditions, template
//! rendering, every policy) and reply classification. `./scripts/bench` prints the figures.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nudge_core::domain::{
    Category, Customer, CustomerId, PhoneNumber, RuleId, SentEntry, TenantId,
};
use nudge_core::rulebook;
use nudge_core::service::decide;
use serde_json::json;
use std::hint::black_box;

const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
holidays: [cn-2026]
attributes: [name, plan, trial_started_at]
policy:
  window: {start: "09:00", end: "20:00"}
  marketing: {weekdays_only: true, skip_holidays: true, per_week: 2, per_30_days: 3, min_gap: 10d}
  care: {per_week: 3, on_cap: defer}
  same_rule_min_gap: 72h
rules:
  - id: trial-day-7
    category: care
    trigger: {date: trial_started_at, offset: 7d, at: "10:00"}
    when: customer.plan == "trial"
    exit: customer.plan == "paid"
    template: "{{name}}您好，试用已满7天，有问题回复1预约演示。"
    replies: {"1": {emit: demo.requested}}
  - id: promo
    category: marketing
    trigger: {event: promo.eligible}
    template: "{{name}}您好，会员日全场9折，回复Y领取优惠券。"
    replies: {"Y": {emit: coupon.claimed}}
"#;

fn decisions(c: &mut Criterion) {
    let book = rulebook::parse(RULES, "bench.yaml").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap(); // Tuesday 10:00 Shanghai
    let mut customer = Customer::new(
        TenantId::parse("acme").unwrap(),
        CustomerId::parse("c1").unwrap(),
        PhoneNumber::parse("13800138000", Some("CN")).unwrap(),
        now,
    );
    customer.attributes.insert("name".into(), json!("王芳"));
    customer.attributes.insert("plan".into(), json!("trial"));
    customer
        .attributes
        .insert("trial_started_at".into(), json!("2026-03-03"));
    for days in [20, 12, 5] {
        customer.ledger.push(SentEntry {
            at: now - chrono::TimeDelta::days(days),
            category: Category::Care,
            rule: RuleId::parse("older").unwrap(),
        });
    }
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    for rule in &book.rules {
        group.bench_function(rule.id.as_str(), |b| {
            b.iter(|| decide(black_box(&book), rule, black_box(&customer), None, now))
        });
    }
    group.finish();
    // Where a conditional decision spends its time: binding the variables vs running CEL.
    let rule = &book.rules[0];
    let context = customer.to_context();
    let mut group = c.benchmark_group("cel");
    group.bench_function("bind", |b| {
        b.iter(|| nudge_core::rulebook::Bindings::new(black_box(&context), None, now))
    });
    let bindings = nudge_core::rulebook::Bindings::new(&context, None, now);
    let when = rule.when.as_ref().unwrap();
    group.bench_function("eval", |b| b.iter(|| when.eval_with(black_box(&bindings))));
    group.bench_function("render", |b| {
        b.iter(|| rule.template.render(black_box(&context), None))
    });
    group.bench_function("to_context", |b| {
        b.iter(|| black_box(&customer).to_context())
    });
    group.finish();
}

fn classification(c: &mut Criterion) {
    let book = rulebook::parse(RULES, "bench.yaml").unwrap();
    let classifier = nudge_core::service::classifier_for(&book);
    let texts = [
        "TD",
        "ｔｄ。",
        "退 订",
        "Stop!",
        "1",
        "Ｙ",
        "HELP",
        "谢谢，已经收到了",
        "start",
        "请帮我退订",
    ];
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("mixed_replies", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(classifier.classify(black_box(t)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decisions, classification);
criterion_main!(benches);
