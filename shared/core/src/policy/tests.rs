//! The decision pipeline, end to end: table-driven cases and a property test.
use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeDelta};
use chrono_tz::Asia::Shanghai;
use proptest::prelude::*;

use super::*;
use crate::domain::Span;

const BRAND: &str = "阿克米";
const FOOTER: &str = "回复TD退订";

fn t(hm: &str) -> NaiveTime {
    NaiveTime::parse_from_str(hm, "%H:%M").unwrap()
}

fn window(start: &str, end: &str) -> Window {
    Window::new(t(start), t(end)).unwrap()
}

/// The example policy of the README's rulebook section.
fn policy() -> Policy {
    Policy {
        window: window("09:00", "20:00"),
        transactional: CategoryPolicy {
            window: Some(window("08:00", "22:00")),
            ..CategoryPolicy::default()
        },
        care: CategoryPolicy {
            per_week: Some(3),
            on_cap: CapAction::Defer,
            ..CategoryPolicy::default()
        },
        marketing: CategoryPolicy {
            weekdays_only: true,
            skip_holidays: true,
            per_week: Some(2),
            per_30_days: Some(3),
            min_gap: Some(Span::days(10)),
            on_cap: CapAction::Skip,
            ..CategoryPolicy::default()
        },
        same_rule_min_gap: Some(Span::from_seconds(72 * 3600)),
        opt_out_footer: FOOTER.into(),
        banned_phrases: vec!["最后机会".into(), "清仓".into()],
        max_segments: 3,
        number_hygiene: NumberHygiene::default(),
    }
}

fn golden_week() -> BTreeSet<NaiveDate> {
    (1..=7)
        .filter_map(|d| NaiveDate::from_ymd_opt(2026, 10, d))
        .collect()
}

/// Shanghai local time → UTC.
fn sh(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    crate::domain::local_to_utc(naive.date(), naive.time(), Shanghai)
}

/// One decision scenario; defaults are a clean care text on Wednesday 2026-05-06 10:00.
#[derive(Clone)]
struct Case {
    name: &'static str,
    now: &'static str,
    category: Category,
    rule: &'static str,
    body: &'static str,
    /// Overrides the composed text.
    raw_text: Option<&'static str>,
    suppressed: bool,
    number_invalid: bool,
    condition_holds: bool,
    exit_holds: bool,
    holdout_bp: u32,
    max_segments: u32,
    /// (local time, category, rule)
    ledger: Vec<(&'static str, Category, &'static str)>,
    want: Decision,
}

fn base(name: &'static str, want: Decision) -> Case {
    Case {
        name,
        now: "2026-05-06 10:00",
        category: Category::Care,
        rule: "trial-day-7",
        body: "您好，试用已满7天，有问题回复1预约演示。",
        raw_text: None,
        suppressed: false,
        number_invalid: false,
        condition_holds: true,
        exit_holds: false,
        holdout_bp: 0,
        max_segments: 3,
        ledger: Vec::new(),
        want,
    }
}

fn run(case: &Case) -> Decision {
    let policy = policy();
    let holidays = golden_week();
    let rule = RuleId::parse(case.rule).unwrap();
    let ledger: Vec<SentEntry> = case
        .ledger
        .iter()
        .map(|(at, category, rule)| SentEntry {
            at: sh(at),
            category: *category,
            rule: RuleId::parse(*rule).unwrap(),
        })
        .collect();
    let composed = compose(BRAND, case.body, FOOTER, case.category);
    let input = PolicyInput {
        now: sh(case.now),
        zone: Shanghai,
        category: case.category,
        rule: &rule,
        customer_id: "c-1",
        holdout_bp: case.holdout_bp,
        max_segments: case.max_segments,
        suppressed: case.suppressed,
        number_invalid: case.number_invalid,
        condition_holds: case.condition_holds,
        exit_holds: case.exit_holds,
        ledger: &ledger,
        text: case.raw_text.unwrap_or(&composed),
        brand: BRAND,
        policy: &policy,
        holidays: &holidays,
    };
    decide(&input)
}

fn skip(reason: SkipReason) -> Decision {
    Decision::Skip { reason }
}

fn defer(until: &str, reason: DeferReason) -> Decision {
    Decision::Defer {
        until: sh(until),
        reason,
    }
}

#[test]
fn decision_table() {
    use Category::{Care, Marketing, Transactional};
    let marketing = |name, want| Case {
        category: Marketing,
        rule: "win-back-30",
        body: "好久不见，新品已上架。",
        ..base(name, want)
    };
    let transactional = |name, want| Case {
        category: Transactional,
        rule: "thank-you",
        body: "订单已付款，感谢惠顾。",
        ..base(name, want)
    };
    let cases = vec![
        base("clean care text", Decision::Send),
        Case {
            suppressed: true,
            ..base("opted out", skip(SkipReason::OptedOut))
        },
        Case {
            suppressed: true,
            ..transactional(
                "opt-out wins even for transactional",
                skip(SkipReason::OptedOut),
            )
        },
        Case {
            suppressed: true,
            exit_holds: true,
            condition_holds: false,
            now: "2026-05-06 23:00",
            ..base("opt-out wins over everything", skip(SkipReason::OptedOut))
        },
        Case {
            number_invalid: true,
            exit_holds: true,
            ..transactional(
                "a number given up on skips even transactional texts, before exit",
                skip(SkipReason::NumberInvalid),
            )
        },
        Case {
            suppressed: true,
            number_invalid: true,
            ..base(
                "opt-out before a number given up on",
                skip(SkipReason::OptedOut),
            )
        },
        Case {
            exit_holds: true,
            condition_holds: false,
            ..base("exit before condition", skip(SkipReason::Exit))
        },
        Case {
            condition_holds: false,
            ..base("condition no longer holds", skip(SkipReason::Condition))
        },
        Case {
            ledger: vec![("2026-05-04 11:00", Care, "trial-day-7")],
            now: "2026-05-06 23:00",
            ..base(
                "same rule within 72h, even outside the window",
                skip(SkipReason::SameRuleGap),
            )
        },
        Case {
            ledger: vec![("2026-05-03 09:59", Care, "trial-day-7")],
            ..base("same rule 72h+1m ago", Decision::Send)
        },
        Case {
            ledger: vec![("2026-05-06 09:00", Transactional, "thank-you")],
            ..transactional(
                "transactional exempt from the same-rule gap",
                Decision::Send,
            )
        },
        Case {
            now: "2026-05-06 21:30",
            ..transactional("transactional 21:30 allowed", Decision::Send)
        },
        Case {
            now: "2026-05-06 21:30",
            ..base(
                "care 21:30 deferred",
                defer("2026-05-07 09:00", DeferReason::Window),
            )
        },
        Case {
            now: "2026-05-06 22:00",
            ..transactional(
                "transactional 22:00 deferred",
                defer("2026-05-07 08:00", DeferReason::Window),
            )
        },
        Case {
            now: "2026-05-08 19:59",
            ..base("Friday 19:59", Decision::Send)
        },
        Case {
            now: "2026-05-08 20:00",
            ..base(
                "care Friday 20:00 → Saturday",
                defer("2026-05-09 09:00", DeferReason::Window),
            )
        },
        Case {
            now: "2026-05-08 20:00",
            ..marketing(
                "marketing Friday 20:00 → Monday",
                defer("2026-05-11 09:00", DeferReason::Weekend),
            )
        },
        Case {
            now: "2026-05-09 10:00",
            ..marketing(
                "marketing Saturday → Monday 09:00",
                defer("2026-05-11 09:00", DeferReason::Weekend),
            )
        },
        Case {
            now: "2026-05-09 10:00",
            ..base("care on Saturday", Decision::Send)
        },
        Case {
            now: "2026-10-01 10:00",
            ..marketing(
                "marketing on a holiday",
                defer("2026-10-08 09:00", DeferReason::Holiday),
            )
        },
        Case {
            now: "2026-10-01 10:00",
            ..base("care on a holiday", Decision::Send)
        },
        Case {
            ledger: vec![
                ("2026-04-08 10:00", Marketing, "a"),
                ("2026-04-20 10:00", Marketing, "b"),
                ("2026-04-25 10:00", Marketing, "c"),
            ],
            ..marketing(
                "4th marketing text in 30 days",
                skip(SkipReason::Cap(CapKind::Per30Days)),
            )
        },
        Case {
            ledger: vec![
                ("2026-04-08 10:00", Marketing, "a"),
                ("2026-04-20 10:00", Marketing, "b"),
            ],
            ..marketing("3rd marketing text in 30 days", Decision::Send)
        },
        Case {
            ledger: vec![("2026-04-30 10:00", Marketing, "a")],
            ..marketing(
                "marketing min gap 10d",
                skip(SkipReason::Cap(CapKind::MinGap)),
            )
        },
        Case {
            ledger: vec![
                ("2026-04-30 10:00", Care, "a"),
                ("2026-05-04 10:00", Care, "b"),
                ("2026-05-05 10:00", Care, "c"),
            ],
            ..base(
                "care cap defers until it frees",
                defer("2026-05-07 10:00", DeferReason::Cap),
            )
        },
        Case {
            ledger: vec![
                ("2026-04-30 21:00", Care, "a"),
                ("2026-05-04 10:00", Care, "b"),
                ("2026-05-05 10:00", Care, "c"),
            ],
            ..base(
                "care cap frees at night → next window",
                defer("2026-05-08 09:00", DeferReason::Cap),
            )
        },
        Case {
            ledger: vec![
                ("2026-05-06 09:00", Care, "a"),
                ("2026-05-06 09:01", Care, "b"),
                ("2026-05-06 09:02", Care, "c"),
            ],
            ..transactional("transactional exempt from caps", Decision::Send)
        },
        Case {
            holdout_bp: 10_000,
            ..base("held out", skip(SkipReason::Holdout))
        },
        Case {
            raw_text: Some("【阿克米】您好。"),
            ..base(
                "care without footer",
                skip(SkipReason::Content(ContentProblem::MissingFooter)),
            )
        },
        Case {
            body: "清仓大促。",
            ..marketing(
                "banned phrase",
                skip(SkipReason::Content(ContentProblem::BannedPhrase(
                    "清仓".into(),
                ))),
            )
        },
        Case {
            body: "太好了！",
            ..base(
                "full-width exclamation",
                skip(SkipReason::Content(ContentProblem::FullwidthExclamation)),
            )
        },
        Case {
            max_segments: 1,
            body: LONG,
            ..base("too many segments", skip(SkipReason::TooManySegments))
        },
        Case {
            max_segments: 2,
            body: LONG,
            ..base("long text within the limit", Decision::Send)
        },
    ];
    for case in &cases {
        assert_eq!(run(case), case.want, "{}", case.name);
    }
}

/// 60 CJK characters: with brand and footer, 71 UCS-2 units → 2 segments.
const LONG: &str = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十";

#[test]
fn reason_codes_are_unique_snake_case() {
    let skips = [
        SkipReason::OptedOut,
        SkipReason::NumberInvalid,
        SkipReason::Exit,
        SkipReason::Condition,
        SkipReason::SameRuleGap,
        SkipReason::Cap(CapKind::PerWeek),
        SkipReason::Cap(CapKind::Per30Days),
        SkipReason::Cap(CapKind::MinGap),
        SkipReason::Holdout,
        SkipReason::Content(ContentProblem::MissingBrand),
        SkipReason::Content(ContentProblem::MissingFooter),
        SkipReason::Content(ContentProblem::BannedPhrase("x".into())),
        SkipReason::Content(ContentProblem::FullwidthExclamation),
        SkipReason::Content(ContentProblem::DoubleQuestion),
        SkipReason::Content(ContentProblem::ControlCharacter),
        SkipReason::TooManySegments,
        SkipReason::Template,
        SkipReason::Duplicate,
    ];
    let defers = [
        DeferReason::Window,
        DeferReason::Weekend,
        DeferReason::Holiday,
        DeferReason::Cap,
    ];
    let codes: Vec<&str> = skips
        .iter()
        .map(SkipReason::code)
        .chain(defers.iter().map(DeferReason::code))
        .collect();
    let unique: BTreeSet<&str> = codes.iter().copied().collect();
    assert_eq!(unique.len(), codes.len(), "{codes:?}");
    for code in codes {
        assert!(
            code.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{code}"
        );
    }
    assert_eq!(
        SkipReason::Content(ContentProblem::BannedPhrase("清仓".into())).to_string(),
        "content_banned_phrase: text contains banned phrase \"清仓\""
    );
}

#[test]
fn reasons_serialize_and_compare_as_their_codes() {
    let banned = SkipReason::Content(ContentProblem::BannedPhrase("清仓".into()));
    assert_eq!(
        serde_json::to_value(&banned).unwrap(),
        "content_banned_phrase"
    );
    assert_eq!(
        serde_json::to_value(SkipReason::Cap(CapKind::PerWeek)).unwrap(),
        "cap_per_week"
    );
    assert_eq!(serde_json::to_value(DeferReason::Cap).unwrap(), "cap");
    assert!(SkipReason::OptedOut == *"opted_out");
    assert!(SkipReason::OptedOut != *"exit");
    assert!(DeferReason::Weekend == *"weekend");
    for reason in DeferReason::ALL {
        assert_eq!(DeferReason::from_code(reason.code()), Some(reason));
    }
    assert_eq!(DeferReason::from_code("cap_per_week"), None);
}

fn arb_category() -> impl Strategy<Value = Category> {
    prop_oneof![
        Just(Category::Transactional),
        Just(Category::Care),
        Just(Category::Marketing)
    ]
}

fn arb_zone() -> impl Strategy<Value = Tz> {
    prop_oneof![
        Just(chrono_tz::Asia::Shanghai),
        Just(chrono_tz::America::New_York),
        Just(chrono_tz::Europe::London),
        Just(chrono_tz::Australia::Lord_Howe),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_sends_when_forbidden(
        minutes in 0i64..(2 * 366 * 24 * 60),
        zone in arb_zone(),
        category in arb_category(),
        suppressed in any::<bool>(),
        start_minute in 0u32..(24 * 60),
        length in 1u32..(24 * 60),
        ledger_spec in proptest::collection::vec((0i64..(40 * 24 * 60), arb_category(), 0u8..3), 0..8),
    ) {
        let now = sh("2026-01-01 00:00") + TimeDelta::minutes(minutes);
        let start = NaiveTime::from_num_seconds_from_midnight_opt(start_minute * 60, 0).unwrap();
        let end = NaiveTime::from_num_seconds_from_midnight_opt((start_minute + length) % (24 * 60) * 60, 0).unwrap();
        let mut policy = policy();
        let win = Window::new(start, end).unwrap();
        policy.window = win;
        policy.transactional.window = Some(win);
        let holidays = golden_week();
        let rules = ["a", "b", "c"].map(|r| RuleId::parse(r).unwrap());
        let ledger: Vec<SentEntry> = ledger_spec
            .iter()
            .map(|(ago, category, rule)| SentEntry {
                at: now - TimeDelta::minutes(*ago),
                category: *category,
                rule: rules[usize::from(*rule)].clone(),
            })
            .collect();
        let text = compose(BRAND, "你好。", FOOTER, category);
        let input = PolicyInput {
            now, zone, category, rule: &rules[0], customer_id: "c-1", holdout_bp: 0,
            max_segments: 3, suppressed, number_invalid: false, condition_holds: true, exit_holds: false,
            ledger: &ledger, text: &text, brand: BRAND, policy: &policy, holidays: &holidays,
        };
        let decision = decide(&input);
        if decision == Decision::Send {
            prop_assert!(!suppressed);
            // Inside the window, judged independently on the local clock: the window opened
            // today or (overnight windows) yesterday, on an allowed day.
            let local = now.with_timezone(&zone);
            let category_policy = policy.category(category);
            let opened_on = if !win.is_overnight() || local.time() >= win.start() {
                local.date_naive()
            } else {
                local.date_naive().pred_opt().unwrap()
            };
            prop_assert!(win.contains(local.time()) || win.is_whole_day());
            if category_policy.weekdays_only {
                prop_assert!(!matches!(opened_on.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun));
            }
            if category_policy.skip_holidays {
                prop_assert!(!holidays.contains(&opened_on));
            }
            if category == Category::Marketing {
                let recent = ledger
                    .iter()
                    .filter(|e| e.category == Category::Marketing && now - e.at < TimeDelta::days(30))
                    .count();
                prop_assert!(recent < 3, "{recent} marketing texts in 30 days");
            }
        }
        if let Decision::Defer { until, .. } = decision {
            prop_assert!(until > now);
        }
    }
}
