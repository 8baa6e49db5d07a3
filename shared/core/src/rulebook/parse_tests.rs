//! End-to-end tests of `parse`: whole files in, compiled rulebooks or located problems out.
use chrono::{NaiveDate, NaiveTime};

use super::*;
use crate::domain::{Category, Span};
use crate::policy::{CapAction, Window};

const VALID: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
locale: zh-CN
phone_region: CN
holidays: [2026-12-25, cn-2026]
attributes: [name, plan, trial_started_at, trial_ends_at, birthday, paid_at]
policy:
  window: {start: "09:00", end: "20:00"}
  transactional: {window: {start: "08:00", end: "22:00"}}
  marketing: {weekdays_only: true, skip_holidays: true, per_week: 2, per_30_days: 3, min_gap: 10d, on_cap: skip}
  care: {per_week: 3}
  same_rule_min_gap: 72h
replies:
  opt_out_words: [不要了]
  help_text: "客服热线400-000-0000，回复TD退订"
rules:
  - id: trial-day-7
    description: nudge trial users toward a demo
    category: care
    trigger: {date: trial_started_at, offset: 7d, at: "10:00"}
    when: customer.plan == "trial"
    exit: customer.plan == "paid"
    template: "{{name}}您好，试用已满7天，有问题回复1预约演示。"
    holdout: 10%
    max_segments: 2
    replies: {"１": {emit: demo.requested, answer: "已收到，顾问将在1个工作日内联系您。", set: {demo_requested_at: now}}}
  - id: thank-you
    category: transactional
    trigger: {event: order.paid, delay: 30m, where: 'event.properties.amount > 100'}
    template: "感谢您的订单{{event.properties.order_no}}。"
  - id: birthday
    category: marketing
    trigger: {anniversary: birthday, offset: -3d, at: "10:00"}
    template: "{{name}}，生日快乐，送您一张优惠券。"
    holdout: 2.5%
  - id: win-back-30
    category: marketing
    trigger: {inactive: order.paid, for: 30d}
    template: "好久不见，新品已上架。"
  - id: renewal
    category: care
    trigger: {every: 12mo, from: paid_at, at: "10:00"}
    template: "您的年度服务即将续期。"
  - id: browse-3
    category: care
    trigger: {count: product.viewed, times: 3, within: 7d}
    template: "您看中的商品还有货。"
"#;

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn problems(source: &str) -> Vec<String> {
    parse(source, "r.yaml")
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_rulebook_compiles_with_defaults() {
    let book = parse(VALID, "acme.yaml").unwrap();
    assert_eq!(book.tenant.as_str(), "acme");
    assert_eq!(book.brand, "阿克米");
    assert_eq!(book.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(book.phone_region.as_deref(), Some("CN"));
    assert!(book
        .holidays
        .contains(&NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()));
    assert!(book
        .holidays
        .contains(&NaiveDate::from_ymd_opt(2026, 10, 7).unwrap()));
    assert!(book.attributes.contains("paid_at"));

    let policy = &book.policy;
    assert_eq!(
        policy.window_for(Category::Care),
        Window::new(time(9, 0), time(20, 0)).unwrap()
    );
    assert_eq!(
        policy.window_for(Category::Transactional),
        Window::new(time(8, 0), time(22, 0)).unwrap()
    );
    assert_eq!(policy.marketing.per_week, Some(2));
    assert_eq!(policy.marketing.min_gap, Some(Span::days(10)));
    assert!(policy.marketing.weekdays_only && policy.marketing.skip_holidays);
    assert_eq!(policy.marketing.on_cap, CapAction::Skip);
    assert_eq!(
        policy.care.on_cap,
        CapAction::Defer,
        "care defers by default"
    );
    assert_eq!(
        policy.same_rule_min_gap,
        Some(Span::from_seconds(72 * 3_600))
    );
    assert_eq!(policy.opt_out_footer, "回复TD退订");
    assert_eq!(
        policy.banned_phrases,
        vec!["最后机会".to_string(), "清仓".to_string()]
    );
    assert_eq!(policy.max_segments, 3);

    assert_eq!(book.replies.extra_opt_out, vec!["不要了".to_string()]);
    assert_eq!(book.replies.help_text, "客服热线400-000-0000，回复TD退订");
    assert_eq!(book.replies.opt_out_confirmation, "已退订，回复START可恢复");
    assert_eq!(book.replies.keyword_context, Span::from_seconds(72 * 3_600));
    assert_eq!(
        book.replies.opt_outs_managed_by,
        crate::reply::OptOutManager::Nudge,
        "nudge answers STOP and HELP by default"
    );

    let ids: Vec<&str> = book.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "trial-day-7",
            "thank-you",
            "birthday",
            "win-back-30",
            "renewal",
            "browse-3"
        ]
    );
    let rule = |i: usize| &book.rules[i];

    let trial = rule(0);
    assert_eq!(trial.category, Category::Care);
    assert_eq!(
        trial.trigger,
        Trigger::Date {
            attribute: "trial_started_at".into(),
            offset: Span::days(7),
            at: Some(time(10, 0))
        }
    );
    assert_eq!(
        trial.when.as_ref().unwrap().source,
        "customer.plan == \"trial\""
    );
    assert_eq!(trial.holdout_bp, 1_000);
    assert_eq!(trial.max_segments, Some(2));
    let demo = &trial.replies["1"];
    assert_eq!(demo.emit.as_deref(), Some("demo.requested"));
    assert_eq!(demo.set["demo_requested_at"], serde_json::json!("now"));

    match &rule(1).trigger {
        Trigger::Event {
            event_type,
            delay,
            filter,
        } => {
            assert_eq!(event_type, "order.paid");
            assert_eq!(*delay, Span::from_seconds(1_800));
            assert_eq!(
                filter.as_ref().unwrap().source,
                "event.properties.amount > 100"
            );
        }
        other => panic!("expected an event trigger, got {other:?}"),
    }
    assert!(rule(1).trigger.is_event_driven());
    assert_eq!(
        rule(2).trigger,
        Trigger::Anniversary {
            attribute: "birthday".into(),
            offset: Span::days(-3),
            at: Some(time(10, 0))
        }
    );
    assert_eq!(rule(2).holdout_bp, 250);
    assert_eq!(
        rule(3).trigger,
        Trigger::Inactive {
            event_type: "order.paid".into(),
            after: Span::days(30),
            at: None
        }
    );
    assert_eq!(
        rule(4).trigger,
        Trigger::Every {
            attribute: "paid_at".into(),
            interval: Span {
                months: 12,
                seconds: 0
            },
            at: Some(time(10, 0))
        }
    );
    assert_eq!(
        rule(5).trigger,
        Trigger::Count {
            event_type: "product.viewed".into(),
            times: 3,
            within: Span::days(7),
            delay: Span::ZERO
        }
    );
    assert_eq!(rule(5).holdout_bp, 0);
    assert!(rule(5).replies.is_empty());
}

#[test]
fn a_zero_gap_means_no_gap() {
    let source = VALID.replace("same_rule_min_gap: 72h", "same_rule_min_gap: 0s");
    assert_eq!(
        parse(&source, "r.yaml").unwrap().policy.same_rule_min_gap,
        None
    );
    let negative = VALID.replace("min_gap: 10d", "min_gap: -1d");
    assert!(problems(&negative)[0].contains("must not be negative"));
}

#[test]
fn english_locale_gets_english_reply_texts() {
    let source = VALID.replace("locale: zh-CN", "locale: en-US");
    let book = parse(&source, "r.yaml").unwrap();
    assert!(book.replies.opt_out_confirmation.contains("Reply START"));
}

/// Each mistake's line is noted; the test asserts every one is reported at once.
const BROKEN: &str = r#"tenant: "ac#me"
brand: 阿克米
timezone: Mars/Olympus
phone_region: XX
holidays: [2026-02-30, cn-2099]
attributes: [name, plan]
policy:
  window: {start: "20:00", end: "20:00"}
  same_rule_min_gap: 3 days
rules:
  - id: a
    category: sometimes
    trigger: {date: signup_at, offset: 1d12h, at: "10:00"}
    template: "【阿克米】{{nickname}}您好！"
  - id: a
    category: marketing
    trigger: {event: order.paid, date: plan}
    when: customer.plan ==
    template: "清仓大促？？回复TD退订"
  - id: c
    category: care
    trigger: {inactive: order.paid, for: 30d, where: "event.x == 1"}
    exit: user.plan == "paid"
    template: "{{ name }"
    holdout: 60%
    replies: {"TD": {emit: x.y}, " ": {answer: "ok"}}
"#;

#[test]
fn a_broken_rulebook_reports_every_problem_with_its_position() {
    let found = problems(BROKEN);
    let expect_prefix = [
        ("r.yaml:1:9:", "must not contain '#'"),
        ("r.yaml:3:11:", "not an IANA time zone"),
        ("r.yaml:4:15:", "region code"),
        ("r.yaml:5:12:", "2026-02-30"),
        ("r.yaml:5:24:", "cn-2099"),
        (
            "r.yaml:8:33:",
            "start and end are equal; use 00:00–00:00 for the whole day",
        ),
        ("r.yaml:9:22:", "3 days"),
        ("r.yaml:12:15:", "unknown category \"sometimes\""),
        ("r.yaml:13:21:", "not declared in `attributes`"),
        ("r.yaml:13:40:", "whole days"),
        ("r.yaml:14:15:", "brand signature"),
        ("r.yaml:14:15:", "full-width"),
        ("r.yaml:14:15:", "`nickname`"),
        ("r.yaml:15:9:", "duplicate rule id `a` (lines 11 and 15)"),
        ("r.yaml:17:40:", "both `event` and `date`"),
        ("r.yaml:18:11:", "CEL does not compile"),
        ("r.yaml:19:15:", "？？"),
        ("r.yaml:19:15:", "banned phrase \"清仓\""),
        ("r.yaml:19:15:", "opt-out footer"),
        (
            "r.yaml:22:54:",
            "`where` does not apply to an inactive trigger",
        ),
        ("r.yaml:23:11:", "unknown variable `user`"),
        ("r.yaml:24:15:", "template does not parse"),
        ("r.yaml:25:14:", "holdout \"60%\""),
    ];
    for (prefix, text) in expect_prefix {
        assert!(
            found
                .iter()
                .any(|p| p.starts_with(prefix) && p.contains(text)),
            "missing {prefix} …{text}… in:\n{}",
            found.join("\n")
        );
    }
    // The reply menu problems sit on line 26, after everything above.
    let last_two: Vec<&String> = found.iter().rev().take(2).collect();
    assert!(
        last_two.iter().all(|p| p.starts_with("r.yaml:26:")),
        "{found:#?}"
    );
    assert!(found
        .iter()
        .any(|p| p.contains("opt-out, opt-in or help word")));
    assert!(found.iter().any(|p| p.contains("empty once normalised")));
    // Ordered by position.
    let positions: Vec<(u64, u64)> = parse(BROKEN, "r.yaml")
        .unwrap_err()
        .problems
        .iter()
        .map(|p| (p.line, p.column))
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let source = VALID.replace("    holdout: 10%\n", "    holdout: 10%\n    hold_out: 5%\n");
    let found = problems(&source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("r.yaml:27:5: unknown field `hold_out`"),
        "{found:?}"
    );
    assert!(!found[0].contains('\n') && !found[0].contains('\u{1b}'));

    let trigger = VALID.replace(
        "{count: product.viewed,",
        "{count: product.viewed, bogus: 1,",
    );
    let found = problems(&trigger);
    assert!(
        found[0].starts_with("r.yaml:48:38: unknown field `bogus`"),
        "{found:?}"
    );
}

#[test]
fn type_errors_name_the_key() {
    let source = VALID.replace("    max_segments: 2\n", "    max_segments: lots\n");
    let found = problems(&source);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("r.yaml:27:19: `max_segments`: "),
        "{found:?}"
    );

    let unknown_cap = VALID.replace("on_cap: skip", "on_cap: later");
    let found = problems(&unknown_cap);
    assert!(found[0].contains("unknown variant `later`"), "{found:?}");
    assert!(
        found[0].starts_with("r.yaml:12:108: `on_cap`: "),
        "{found:?}"
    );

    let missing = "tenant: acme\nbrand: b\ntimezone: UTC\n";
    assert!(problems(missing)[0].contains("missing field `rules`"));

    let syntax = "tenant: acme\nbrand: [b\n";
    assert!(problems(syntax)[0].starts_with("r.yaml:2:"));
}

#[test]
fn trigger_shapes_are_checked() {
    let with = |trigger: &str| {
        let source = format!(
            "tenant: t\nbrand: b\ntimezone: UTC\nattributes: [paid_at]\nrules:\n  - id: r\n    \
             category: care\n    trigger: {trigger}\n    template: hi\n"
        );
        parse(&source, "r.yaml").map(|b| b.rules[0].trigger.clone())
    };
    let message = |trigger: &str| with(trigger).unwrap_err().to_string();
    assert!(message("{}").contains("trigger needs one of"));
    assert!(message("{count: a.b, within: 7d}").contains("needs `times`"));
    assert!(message("{count: a.b, times: 1, within: 7d}").contains("at least 2"));
    assert!(message("{count: a.b, times: 33, within: 7d}").contains("at most 32"));
    assert!(message("{inactive: a.b}").contains("needs `for`"));
    assert!(message("{every: 1mo}").contains("needs `from`"));
    assert!(message("{every: 0d, from: paid_at}").contains("longer than zero"));
    assert!(message("{event: a.b, delay: -5m}").contains("must not be negative"));
    assert!(message("{date: paid_at, at: \"25:00\"}").contains("HH:MM"));
    assert!(message("{event: a.b, at: \"10:00\"}").contains("`at` does not apply"));
    assert!(message("{event: a.b, where: 'foo > 1'}").contains("unknown variable `foo`"));
    assert_eq!(
        with("{date: paid_at}").unwrap(),
        Trigger::Date {
            attribute: "paid_at".into(),
            offset: Span::ZERO,
            at: None
        }
    );
    assert!(matches!(
        with("{event: a.b}").unwrap(),
        Trigger::Event {
            delay: Span::ZERO,
            filter: None,
            ..
        }
    ));
}

#[test]
fn templates_may_use_event_only_on_event_driven_rules() {
    let source = VALID.replace(
        "template: \"好久不见，新品已上架。\"",
        "template: \"{{event.type}}\"",
    );
    let found = problems(&source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("only event and count triggers"),
        "{found:?}"
    );
}

#[test]
fn reply_keywords_are_normalised_like_replies() {
    let source = "tenant: t\nbrand: b\ntimezone: UTC\nrules:\n  - id: r\n    category: care\n    \
                  trigger: {event: a.b}\n    template: hi\n    replies: {\"ｙ。\": {emit: x.y}}\n";
    let book = parse(source, "r.yaml").unwrap();
    assert!(book.rules[0].replies.contains_key("Y"));
    let clash = source.replace("ｙ。", "Stop!");
    assert!(problems(&clash)[0].contains("opt-out, opt-in or help word"));
}

#[test]
fn rules_list_must_not_be_empty() {
    let found = problems("tenant: t\nbrand: b\ntimezone: UTC\nrules: []\n");
    assert_eq!(found, ["r.yaml:4:8: rules must list at least one rule"]);
}

#[test]
fn transactional_caps_and_bad_policy_values_are_reported() {
    let source = "tenant: t\nbrand: 【b】\ntimezone: UTC\npolicy:\n  transactional: {per_week: 2}\n  \
                  care: {per_week: 0}\n  max_segments: 20\nrules:\n  - id: r\n    category: care\n    \
                  trigger: {event: a.b}\n    template: hi\n";
    let found = problems(source);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("r.yaml:2:8: brand"));
    assert!(found[1].starts_with("r.yaml:5:29: transactional texts are exempt from caps"));
    assert!(found[2].starts_with("r.yaml:6:20: a cap of 0"));
    assert!(found[3].starts_with("r.yaml:7:17: max_segments must be between 1 and 10"));
}

/// `file:line:column` of the first occurrence of `needle` in `source` (columns count characters).
fn position_of(source: &str, needle: &str) -> String {
    let (index, line) = source
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap();
    let column = line[..line.find(needle).unwrap()].chars().count() + 1;
    format!("r.yaml:{}:{column}:", index + 1)
}

#[test]
fn double_question_marks_of_either_width_fail_the_check_where_they_are() {
    for marks in ["??", "?？", "？？"] {
        let template = format!("\"好久不见{marks}新品已上架。\"");
        let help = format!("\"需要帮助{marks}请致电客服\"");
        let source = VALID
            .replace("\"好久不见，新品已上架。\"", &template)
            .replace("\"客服热线400-000-0000，回复TD退订\"", &help);
        let found = problems(&source);
        for at in [position_of(&source, &template), position_of(&source, &help)] {
            assert!(
                found
                    .iter()
                    .any(|p| p.starts_with(&at) && p.contains("double question mark")),
                "{marks}: missing {at} in {found:?}"
            );
        }
    }
}

/// Each word a menu keyword may not be (built in, or the tenant's own) is one the classifier
/// answers before any menu, so the check rejects exactly the keywords that could never match.
#[test]
fn the_classifier_recognises_every_word_the_rulebook_reserves() {
    use crate::reply::{words, Classifier, ReplyKind};
    let source = "tenant: t\nbrand: b\ntimezone: UTC\nreplies: {opt_out_words: [baja], \
                  opt_in_words: [alta], help_words: [ayuda]}\nrules:\n  - id: r\n    category: \
                  care\n    trigger: {event: a.b}\n    template: hi\n    replies: {\"ok\": {emit: x.y}}\n";
    let book = parse(source, "r.yaml").unwrap();
    let tenant_words = [
        ("baja", words::Intent::OptOut),
        ("alta", words::Intent::OptIn),
        ("ayuda", words::Intent::Help),
    ];
    for (word, intent) in words::all().chain(tenant_words) {
        let clash = source.replace("\"ok\"", &format!("{word:?}"));
        let found = problems(&clash);
        assert!(
            found
                .iter()
                .any(|p| p.contains("is an opt-out, opt-in or help word")),
            "{word}: {found:?}"
        );
        let classifier = Classifier::new(Some(&book.replies), [word.to_string()]);
        let want = match intent {
            words::Intent::OptOut => ReplyKind::OptOut,
            words::Intent::OptIn => ReplyKind::OptIn,
            words::Intent::Help => ReplyKind::Help,
        };
        assert_eq!(classifier.classify(word).kind, want, "{word}");
    }
}

#[test]
fn overnight_and_whole_day_windows_are_accepted() {
    let source = VALID
        .replace(
            r#"window: {start: "09:00", end: "20:00"}"#,
            r#"window: {start: "22:00", end: "06:00"}"#,
        )
        .replace(
            r#"transactional: {window: {start: "08:00", end: "22:00"}}"#,
            r#"transactional: {window: {start: "00:00", end: "00:00"}}"#,
        );
    let policy = parse(&source, "r.yaml").unwrap().policy;
    let care = policy.window_for(Category::Care);
    assert!(care.is_overnight());
    assert_eq!((care.start(), care.end()), (time(22, 0), time(6, 0)));
    assert_eq!(
        policy.window_for(Category::Transactional),
        Window::WHOLE_DAY
    );
}

#[test]
fn a_window_with_equal_ends_other_than_midnight_is_refused_at_its_end() {
    let source = VALID.replace(
        r#"transactional: {window: {start: "08:00", end: "22:00"}}"#,
        r#"transactional: {window: {start: "08:00", end: "08:00"}}"#,
    );
    let found = problems(&source);
    let at = position_of(&source, r#""08:00"}}"#);
    assert_eq!(
        found,
        [format!(
            "{at} start and end are equal; use 00:00–00:00 for the whole day"
        )]
    );
}

#[test]
fn conditions_past_the_size_limits_are_refused_where_they_are_written() {
    let terms = vec!["1"; 2_000].join(" + ");
    let huge = vec!["1"; 50_000].join(" + ");
    let members = format!("customer.a{}", ".c".repeat(20_000));
    for condition in [format!("{terms} > 0"), format!("{huge} > 0"), members] {
        let source = VALID.replace(
            "when: customer.plan == \"trial\"",
            &format!("when: {condition}"),
        );
        let found = problems(&source);
        let at = position_of(&source, &condition[..12]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(&at) && found[0].contains("more than the 4096 allowed"),
            "{found:?}"
        );
    }
}

#[test]
fn templates_may_not_call_debug() {
    let source = VALID.replace("好久不见，新品已上架。", "好久不见{{ debug() }}");
    let found = problems(&source);
    let at = position_of(&source, "\"好久不见{{");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with(&at) && p.contains("`debug()`, which is not available")),
        "{found:?}"
    );
}

#[test]
fn a_brand_with_control_characters_is_refused() {
    for brand in ["\"阿克米\\0\"", "\"阿克\\e[31m米\"", "\"阿克\\r米\""] {
        let source = VALID.replace("brand: 阿克米", &format!("brand: {brand}"));
        let found = problems(&source);
        assert_eq!(found.len(), 1, "{brand}: {found:?}");
        assert!(
            found[0].starts_with("r.yaml:3:8: brand") && found[0].contains("control characters"),
            "{found:?}"
        );
    }
}

/// A control character in a template, a reply text or the footer is refused where it is
/// written (a line break is fine); the same rule skips a text whose customer data brings one.
#[test]
fn control_characters_in_texts_fail_the_check_where_they_are() {
    let template = "\"好久不见\\e新品已上架。\"";
    let help = "\"需要帮助\\0请致电客服\"";
    let source = VALID
        .replace("\"好久不见，新品已上架。\"", template)
        .replace("\"客服热线400-000-0000，回复TD退订\"", help);
    let found = problems(&source);
    for at in [position_of(&source, template), position_of(&source, help)] {
        assert!(
            found
                .iter()
                .any(|p| p.starts_with(&at) && p.contains("control character")),
            "missing {at} in {found:?}"
        );
    }
    let line_break = VALID.replace(
        "\"好久不见，新品已上架。\"",
        "\"好久不见，\\n新品已上架。\"",
    );
    assert!(parse(&line_break, "r.yaml").is_ok());
    let footer = "  opt_out_footer: \"回复TD退订\\r\"";
    let with_footer = VALID.replacen("policy:\n", &format!("policy:\n{footer}\n"), 1);
    let found = problems(&with_footer);
    assert!(
        found
            .iter()
            .any(|p| p.contains("opt_out_footer") && p.contains("control characters")),
        "{found:?}"
    );
}

const SENDER_AND_TEMPLATE: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
numbers: ["+8613900000001"]
sender: {number: "+8613900000002"}
attributes: [name]
rules:
  - id: signed
    category: transactional
    trigger: {event: parcel.signed}
    template: "{{name}}您好，快递{{event.properties.waybill}}已签收。"
    gateway_template: {id: "1234567", params: [name, event.properties.waybill]}
"#;

#[test]
fn a_sender_number_is_one_of_the_tenants_numbers() {
    let book = parse(SENDER_AND_TEMPLATE, "acme.yaml").unwrap();
    let own = crate::domain::PhoneNumber::parse("+8613900000002", None).unwrap();
    assert_eq!(
        book.origination,
        Some(crate::domain::Origination::Number(own.clone()))
    );
    assert_eq!(book.numbers.len(), 2);
    assert!(book.numbers.contains(&own));
    let gateway = book.rules[0].gateway_template.as_ref().unwrap();
    assert_eq!(gateway.id, "1234567");
    assert_eq!(gateway.params.len(), 2);
}

#[test]
fn a_sender_names_exactly_one_identity_of_a_valid_shape() {
    let with = |sender: &str| {
        problems(&SENDER_AND_TEMPLATE.replace(r#"{number: "+8613900000002"}"#, sender))
    };
    assert_eq!(
        with(r#"{number: "+8613900000002", sender_id: ACME}"#),
        ["r.yaml:7:9: `sender` names exactly one of `number` (E.164), `pool` or `sender_id`"]
    );
    assert_eq!(
        with("{}"),
        ["r.yaml:7:9: `sender` names exactly one of `number` (E.164), `pool` or `sender_id`"]
    );
    assert!(with(r#"{number: "13900000002"}"#)[0].contains("13900000002"));
    assert!(with("{sender_id: ACME-SHOP-2026}")[0].contains("1–11"));
    assert!(with("{sender_id: \"12345\"}")[0].contains("at least one letter"));
    assert!(with("{pool: \"pool a\"}")[0].contains("pool"));
    let valid = |sender: &str| {
        parse(
            &SENDER_AND_TEMPLATE.replace(r#"{number: "+8613900000002"}"#, sender),
            "r.yaml",
        )
        .unwrap()
        .origination
    };
    assert_eq!(
        valid("{pool: pool-0123456789abcdef}"),
        Some(crate::domain::Origination::Pool(
            "pool-0123456789abcdef".into()
        ))
    );
    assert_eq!(
        valid("{sender_id: ACME}"),
        Some(crate::domain::Origination::SenderId("ACME".into()))
    );
}

#[test]
fn a_gateway_templates_params_are_exactly_the_texts_variables() {
    let with = |template: &str| {
        problems(&SENDER_AND_TEMPLATE.replace(
            "{id: \"1234567\", params: [name, event.properties.waybill]}",
            template,
        ))
    };
    assert_eq!(
        with("{id: \"1234567\", params: [name]}"),
        ["r.yaml:14:23: the text uses `event.properties.waybill`, which is not one of the gateway template's params"]
    );
    assert_eq!(
        with("{id: \"1234567\", params: [name, event.properties.waybill, event.properties.eta]}"),
        ["r.yaml:14:23: param `event.properties.eta` is not used by the text, so the two would say different things"]
    );
    assert!(
        with("{id: \"1234567\", params: [name, name, event.properties.waybill]}")[0]
            .contains("listed twice")
    );
    assert!(
        with("{id: \"12 34\", params: [name, event.properties.waybill]}")[0]
            .contains("gateway template id")
    );
    assert!(
        with("{id: \"1234567\", params: [\"name | upper\", event.properties.waybill]}")[0]
            .contains("is not a variable of the text")
    );
}

#[test]
fn who_manages_opt_outs_is_nudge_or_the_provider() {
    let provider = VALID.replace("replies:\n", "replies:\n  opt_outs_managed_by: provider\n");
    let book = parse(&provider, "acme.yaml").unwrap();
    assert_eq!(
        book.replies.opt_outs_managed_by,
        crate::reply::OptOutManager::Provider
    );
    let typo = VALID.replace("replies:\n", "replies:\n  opt_outs_managed_by: aws\n");
    let found = problems(&typo);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("r.yaml:16:24:")
                && p.contains("`aws` is not who manages opt-outs")),
        "{found:?}"
    );
}

#[test]
fn number_hygiene_counts_outcomes_in_a_row_per_reason() {
    let book = parse(VALID, "acme.yaml").unwrap();
    let defaults = book.policy.number_hygiene;
    assert_eq!(
        (
            defaults.invalid_number,
            defaults.unreachable,
            defaults.blocked
        ),
        (1, 3, 3)
    );
    let custom = VALID.replace(
        "  same_rule_min_gap: 72h\n",
        "  same_rule_min_gap: 72h\n  number_hygiene: {unreachable: 5, blocked: 0}\n",
    );
    let hygiene = parse(&custom, "acme.yaml").unwrap().policy.number_hygiene;
    use crate::domain::UndeliveredReason::{Blocked, InvalidNumber, PriceExceeded, Unreachable};
    assert_eq!(hygiene.give_up_after(InvalidNumber), Some(1));
    assert_eq!(hygiene.give_up_after(Unreachable), Some(5));
    assert_eq!(hygiene.give_up_after(Blocked), None, "0 never gives up");
    assert_eq!(hygiene.give_up_after(PriceExceeded), None);
    let wrong = VALID.replace(
        "  same_rule_min_gap: 72h\n",
        "  same_rule_min_gap: 72h\n  number_hygiene: {unreachable: 500, silent: 2}\n",
    );
    let found = problems(&wrong);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("r.yaml:") && p.contains("silent")),
        "{found:?}"
    );
    let too_many = VALID.replace(
        "  same_rule_min_gap: 72h\n",
        "  same_rule_min_gap: 72h\n  number_hygiene: {unreachable: 500}\n",
    );
    let found = problems(&too_many);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("r.yaml:15:") && p.contains("at most 100")),
        "{found:?}"
    );
}
