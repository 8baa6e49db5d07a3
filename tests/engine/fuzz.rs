//! Generated rulebooks: the example rulebooks with random edits (lines dropped, repeated,
//! swapped or re-indented; fragments of YAML, CEL and templates that break parsers inserted
//! anywhere). Whatever the text, parsing and checking it answers within a bound on a thread
//! with a Lambda-sized stack, a refused rulebook lists only located problems
//! (`FILE:LINE:COL: message`), and an accepted one evaluates its conditions and renders its
//! templates without panicking or running away. A fixed number of cases; `PROPTEST_CASES`
//! raises it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use chrono::{TimeZone, Utc};
use nudge_core::rulebook;
use nudge_tests::generated_cases;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::json;
use std::sync::mpsc;
use std::time::Duration;

const EXAMPLES: &[&str] = &[
    include_str!("../../examples/saas-lifecycle.yaml"),
    include_str!("../../examples/logistics.yaml"),
    include_str!("../../examples/retail-winback.yaml"),
    include_str!("../../examples/clinic-care.yaml"),
    include_str!("../../examples/birthday.yaml"),
];

/// The most one rulebook may take to parse, check, evaluate and render.
const BOUND: Duration = Duration::from_secs(20);
/// The stack of a Lambda or tokio worker thread.
const STACK: usize = 2 * 1024 * 1024;

/// What tends to break a YAML, CEL or template parser, or make it run away.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ": [", "- ", "&a [x, *a]", "*a", "!!binary AAAA", "\"\\0\"", "\t", "{", "}", "'",
            "\"", "? ", "|\n  ", ">-\n", "---\n", "...\n", "%YAML 1.1\n", "~", "0x1F", "1e999",
            " && customer.plan == \"trial\"", " || ", "(", ")", "customer.", "event.properties.",
            "size(customer.attributes) > 0", "timestamp(\"x\")", "1 / 0 == 1", "'a' * 3",
            "{{", "}}", "{{ name }}", "{{ debug() }}", "{% for i in range(100000) %}",
            "{% endfor %}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ 'x' * 99999999 }}",
            "【", "】", "回复TD退订", "\u{0}", "\u{1b}", "\u{feff}", "\r\n", "\u{200b}",
            "25:61", "-1d", "99999999d", "Mars/Base", "2026-02-30",
        ])
        .prop_map(str::to_string),
        1 => Just(format!("{} > 0", vec!["1"; 2000].join(" + "))),
        1 => Just(format!("customer{}", ".c".repeat(20_000))),
        1 => Just(format!("{}1{}", "(".repeat(200), ")".repeat(200))),
        // An alias bomb: each level doubles the one before.
        1 => Just(
            (0..30)
                .map(|i| format!("a{}: &a{} [*a{i}, *a{i}]\n", i + 1, i + 1))
                .fold("a0: &a0 [x]\n".to_string(), |acc, l| acc + &l)
        ),
        2 => any::<String>(),
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    DropLine(usize),
    RepeatLine(usize),
    SwapLines(usize, usize),
    Indent(usize, bool),
    Insert(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => any::<usize>().prop_map(Edit::DropLine),
        1 => any::<usize>().prop_map(Edit::RepeatLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(a, more)| Edit::Indent(a, more)),
        4 => (any::<usize>(), fragment()).prop_map(|(at, text)| Edit::Insert(at, text)),
    ]
}

fn apply(source: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_string).collect();
    for edit in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match edit {
            Edit::DropLine(i) => {
                lines.remove(i % n);
            }
            Edit::RepeatLine(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Edit::SwapLines(a, b) => lines.swap(a % n, b % n),
            Edit::Indent(i, more) => {
                let line = &mut lines[i % n];
                if *more {
                    line.insert_str(0, "  ");
                } else if let Some(rest) = line.strip_prefix("  ") {
                    *line = rest.to_string();
                }
            }
            Edit::Insert(at, text) => {
                let line = &mut lines[at % n];
                // At a character boundary of the line.
                let cut = line
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([line.len()])
                    .nth(at / n % (line.chars().count() + 1))
                    .unwrap_or(line.len());
                line.insert_str(cut, text);
            }
        }
    }
    lines.join("\n")
}

/// Parses, checks, evaluates and renders `source`; None when it is fine, else what is wrong.
fn exercise(source: &str) -> Option<String> {
    match rulebook::parse(source, "fuzz.yaml") {
        Err(errors) => {
            if errors.problems.is_empty() {
                return Some("refused without a problem".into());
            }
            errors
                .problems
                .iter()
                .map(|p| p.to_string())
                .find(|p| {
                    let mut parts = p.splitn(4, ':');
                    let located = parts.next() == Some("fuzz.yaml")
                        && parts
                            .next()
                            .is_some_and(|l| l.parse::<u32>().is_ok_and(|l| l >= 1))
                        && parts
                            .next()
                            .is_some_and(|c| c.parse::<u32>().is_ok_and(|c| c >= 1))
                        && parts.next().is_some_and(|m| !m.trim().is_empty());
                    !located
                })
                .map(|p| format!("a problem without a location: {p:?}"))
        }
        Ok(book) => {
            let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
            let customer = json!({"id": "c1", "phone": "+8613800138000", "name": "王芳",
                "plan": "trial", "attributes": {"name": "王芳", "plan": "trial"}});
            let event = json!({"type": "order.paid", "properties": {"order_id": "A-1"}});
            for rule in &book.rules {
                for condition in [&rule.when, &rule.exit].into_iter().flatten() {
                    // An error is an answer; only a panic or a hang is a failure.
                    let _ = condition.eval(&customer, Some(&event), now);
                }
                let _ = rule.template.render(&customer, Some(&event));
            }
            None
        }
    }
}

#[test]
fn generated_rulebooks_are_refused_at_a_location_or_work_within_bounds() {
    let config = generated_cases(1000);
    let strategy = (
        prop::sample::select(EXAMPLES),
        prop::collection::vec(edit(), 1..6),
    )
        .prop_map(|(source, edits)| apply(source, &edits));
    TestRunner::new(config)
        .run(&strategy, |source| {
            let (done, outcome) = mpsc::channel();
            let text = source.clone();
            // A thread of its own: a stack overflow aborts the run (a failure), a hang is
            // seen as the bound passing.
            std::thread::Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    let _ = done.send(exercise(&text));
                })
                .unwrap();
            match outcome.recv_timeout(BOUND) {
                Ok(None) => Ok(()),
                Ok(Some(wrong)) => Err(TestCaseError::fail(format!("{wrong}\n{source}"))),
                Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!(
                    "no answer within {BOUND:?}:\n{source}"
                ))),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Err(TestCaseError::fail(format!("panicked:\n{source}")))
                }
            }
        })
        .unwrap();
}
