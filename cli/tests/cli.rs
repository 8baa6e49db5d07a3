//! The `nudge` binary as a user runs it: exit codes, error locations, JSON outputs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use nudge_core::ports::CounterStore;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nudge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn every_example_rulebook_is_valid() {
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = nudge(&["rules", "check", path.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                text(&out.stderr)
            );
            assert!(text(&out.stdout).contains(": ok"));
        }
    }
}

#[test]
fn a_broken_rulebook_lists_every_problem_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "tenant: acme\nbrand: 阿克米\ntimezone: Mars/Base\nrules:\n  - id: a\n    category: care\n    \
         trigger: {date: signup, offset: 7x}\n    template: \"{{name}}您好！\"\n",
    )
    .unwrap();
    let out = nudge(&["rules", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let name = file.display().to_string();
    assert!(stderr.contains(&format!("{name}:3:11:")), "{stderr}");
    assert!(
        stderr.lines().filter(|l| l.starts_with(&name)).count() >= 4,
        "{stderr}"
    );
    assert!(stderr.contains("Mars/Base"));
}

#[test]
fn plan_prints_decisions_in_time_order_as_json_lines() {
    let out = nudge(&[
        "rules",
        "plan",
        "--rules",
        "examples/saas-lifecycle.yaml",
        "--customer",
        "examples/customer-trial.json",
        "--from",
        "2026-01-05T00:00:00Z",
        "--days",
        "20",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rules: Vec<&str> = lines.iter().map(|l| l["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        ["trial-day-7", "trial-ends-in-4-days", "trial-ends-today"]
    );
    assert_eq!(lines[0]["due_utc"], "2026-01-12T02:00:00+00:00");
    assert_eq!(lines[0]["due_local"], "2026-01-12T10:00:00+08:00");
    assert_eq!(lines[0]["outcome"], "send");
    assert!(lines[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("【云笔记】王芳您好"));
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| l["decided_utc"].as_str().unwrap().to_string());
    assert_eq!(sorted, lines);
}

#[test]
fn classify_reports_kind_keyword_and_normalised_text() {
    let out = nudge(&["reply", "classify", "ＴＤ。"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "opt_out");
    assert_eq!(json["normalized"], "TD");
    let out = nudge(&[
        "reply",
        "classify",
        "--rules",
        "examples/saas-lifecycle.yaml",
        "ｙ",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (json["kind"].as_str(), json["keyword"].as_str()),
        (Some("keyword"), Some("Y"))
    );
    let out = nudge(&["reply", "classify", "明天几点送到？"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "free_text");
}

#[test]
fn simulate_reports_per_rule_and_respects_caps() {
    let out = nudge(&[
        "simulate",
        "--rules",
        "examples/retail-winback.yaml",
        "--customers",
        "examples/retail-customers.csv",
        "--events",
        "examples/retail-events.jsonl",
        "--days",
        "60",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["customers"], 4);
    assert_eq!(report["rules"]["thank-you"]["sent"], 5);
    assert_eq!(report["rules"]["viewed-3-times"]["sent"], 1);
    // The rulebook allows one marketing text per week.
    let max_week = report["max_per_customer_per_week"].as_u64().unwrap();
    assert!(
        max_week <= 2,
        "one marketing + transactional thank-you per week at most: {max_week}"
    );
    let per_day = report["per_day"].as_object().unwrap();
    assert_eq!(per_day.len(), 61);
    let total: u64 = per_day.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, report["total"]["sent"].as_u64().unwrap());
}

/// With `--conversion`, simulated customers send the rule's goal event after its texts (and,
/// at their own rate, after its holdout decisions); the KPI report of the run counts them.
#[test]
fn simulate_converts_per_the_model_and_reports_the_kpis() {
    let run = |model: &str| {
        let out = nudge(&[
            "simulate",
            "--rules",
            "examples/retail-winback.yaml",
            "--customers",
            "examples/retail-customers.csv",
            "--events",
            "examples/retail-events.jsonl",
            "--days",
            "60",
            "--conversion",
            model,
            "--conversion-properties",
            r#"{"order_id": "WB-1"}"#,
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let silent = |report: &serde_json::Value| {
        report["kpis"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == "silent-30-days")
            .unwrap()
            .clone()
    };
    let all = run("silent-30-days:100%:100%:2d:49.5");
    let kpis = silent(&all);
    let texted = kpis["texted"].as_i64().unwrap();
    assert!(texted > 0, "{kpis}");
    assert_eq!(kpis["converted"], texted, "{kpis}");
    assert_eq!(kpis["conversion_value"], 49.5 * texted as f64);
    assert_eq!(kpis["goal"], "order.paid within 7d");
    // The goal event is an order: the thank-you rule texts for it, with the given order id.
    assert!(
        all["rules"]["thank-you"]["sent"].as_i64().unwrap() > 5,
        "{}",
        all["rules"]
    );
    assert_eq!(all["rules"]["thank-you"]["skipped"], serde_json::json!({}));

    let none = run("silent-30-days:0%:0%");
    assert_eq!(silent(&none)["converted"], 0);
    assert_eq!(none["kpis"]["total"]["converted"], 0);

    let out = nudge(&[
        "simulate",
        "--rules",
        "examples/retail-winback.yaml",
        "--customers",
        "examples/retail-customers.csv",
        "--conversion",
        "silent-30-days:12%:8%:8d",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--conversion: \"silent-30-days:12%:8%:8d\""),
        "{err}"
    );
    assert!(err.contains("past the goal window"), "{err}");
}

#[test]
fn a_bad_customer_file_names_row_and_field_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    // Rows are named by their line whichever line endings the file has.
    for ending in ["\n", "\r\n"] {
        let rows = "id,phone,name\nc1,13800138001,王芳\nc2,12345,李雷\nc3,13800138003,张伟\nc1,13800138004,重复\n";
        std::fs::write(&csv, rows.replace('\n', ending)).unwrap();
        let stderr = simulate_fails(&csv, None);
        let name = csv.display().to_string();
        assert!(
            stderr.contains(&format!("{name}:3: phone: \"12345\"")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{name}:5: id: \"c1\" repeats line 2")),
            "{stderr}"
        );
        assert!(stderr.contains("nothing imported"));
    }
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "{\"event_id\":\"e1\",\"customer_id\":\"c1\",\"type\":\"x\",\"occurred_at\":\"2026-01-05T00:00:00Z\"}\n{\"event_id\": 5}\n").unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "id,phone\nc1,13800138001\n").unwrap();
    let stderr = simulate_fails(&good, Some(&events));
    assert!(
        stderr.contains(&format!("{}:2:", events.display())),
        "{stderr}"
    );
}

/// A store file with a week of reply stats and free-text replies for tenant freshmart.
fn seeded_store(dir: &Path) -> PathBuf {
    use nudge_core::domain::TenantId;
    use nudge_core::ports::Counters;
    use nudge_sqlite::SqliteStore;
    let path = dir.join("nudge.db");
    let store = SqliteStore::open(&path).unwrap();
    let tenant = TenantId::parse("freshmart").unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let counters = |list: &[(&str, i64)]| -> Counters {
        list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (d, rule, list) in [
            (
                2,
                "silent-30-days",
                &[
                    ("sent", 40),
                    ("replied", 6),
                    ("opted_out", 2),
                    ("keyword_Y", 3),
                ][..],
            ),
            (
                3,
                "silent-30-days",
                &[
                    ("sent", 40),
                    ("replied", 2),
                    ("opted_out", 2),
                    ("free_text", 1),
                ][..],
            ),
            (
                3,
                "viewed-3-times",
                &[("sent", 10), ("keyword_Y", 1), ("replied", 1)][..],
            ),
            (3, "replies", &[("replied", 2), ("free_text", 2)][..]),
            (20, "silent-30-days", &[("sent", 1000)][..]),
        ] {
            store
                .add_stats(&tenant, day(d), rule, &counters(list))
                .await
                .unwrap();
        }
        for (d, text) in [(2, "多少钱"), (3, "多少钱"), (3, "谢谢"), (20, "太贵了")] {
            store.add_reply_text(&tenant, day(d), text).await.unwrap();
        }
    });
    path
}

#[test]
fn report_replies_sums_a_stores_week_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_store(dir.path());
    let db = db.to_str().unwrap();
    let base = [
        "report",
        "replies",
        "--rules",
        "examples/retail-winback.yaml",
        "--db",
        db,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-07",
    ];
    let out = nudge(&[&base[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let silent = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "silent-30-days")
        .unwrap();
    assert_eq!(silent["sent"], 80);
    assert_eq!(silent["replied"], 8);
    assert_eq!(silent["opted_out"], 4);
    assert_eq!(silent["opt_out_rate"], 0.05);
    assert_eq!(silent["keywords"], serde_json::json!({"Y": 3}));
    assert_eq!(report["total"]["sent"], 90);
    assert_eq!(report["total"]["replied"], 11);
    assert_eq!(report["keywords"], serde_json::json!({"Y": 4}));
    assert_eq!(
        report["top_free_text"],
        serde_json::json!([{"text": "多少钱", "count": 2}, {"text": "谢谢", "count": 1}])
    );
    // The table: one line per rule and a total.
    let out = nudge(&base);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("silent-30-days")[1..],
        ["80", "8", "4", "5.0%", "1", "Y=3"]
    );
    assert_eq!(line("TOTAL")[1..], ["90", "11", "4", "4.4%", "3", "Y=4"]);
    assert!(table.contains("       2  多少钱"), "{table}");
}

#[test]
fn report_replies_errors_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_store(dir.path());
    let db = db.to_str().unwrap();
    let run = |extra: &[&str]| {
        let args = [
            &[
                "report",
                "replies",
                "--rules",
                "examples/retail-winback.yaml",
            ][..],
            extra,
        ]
        .concat();
        let out = nudge(&args);
        assert!(!out.status.success());
        text(&out.stderr)
    };
    assert!(run(&["--db", db, "--from", "2026-13-01"]).contains("--from"));
    assert!(run(&["--db", db, "--to", "soon"]).contains("--to"));
    let err = run(&["--db", db, "--from", "2026-03-08", "--to", "2026-03-01"]);
    assert!(err.contains("--from: must not be after to"), "{err}");
    assert!(run(&["--db", db, "--limit", "0"]).contains("--limit"));
    let missing = dir.path().join("missing.db");
    let err = run(&["--db", missing.to_str().unwrap()]);
    assert!(err.contains("--db"), "{err}");
    assert!(!missing.exists());
}

const SMALL_RULEBOOK: &str = "tenant: acme\nbrand: Acme\ntimezone: UTC\nrules:\n  - id: a\n    \
                              category: transactional\n    trigger: {event: order.paid}\n    \
                              when: CONDITION\n    template: \"Thanks\"\n";

#[test]
fn rules_check_refuses_oversized_conditions_at_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let terms = |n: usize| format!("{} > 0", vec!["1"; n].join(" + "));
    let members = format!("customer.a{}", ".c".repeat(20_000));
    for (case, condition) in [
        ("2000", terms(2_000)),
        ("50000", terms(50_000)),
        ("members", members),
    ] {
        let file = dir.path().join(format!("{case}.yaml"));
        std::fs::write(&file, SMALL_RULEBOOK.replace("CONDITION", &condition)).unwrap();
        let out = nudge(&["rules", "check", file.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{}:8:11: CEL condition is", file.display()))
                && stderr.contains("more than the 4096 allowed"),
            "{case}: {stderr}"
        );
    }
}

#[test]
fn a_rulebook_that_is_not_utf8_is_located_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latin1.yaml");
    let mut bytes = SMALL_RULEBOOK
        .replace("CONDITION", "true")
        .replace("Thanks", "Merci \u{1}")
        .into_bytes();
    let at = bytes.iter().position(|b| *b == 1).unwrap();
    bytes[at] = 0xE9; // "é" in Latin-1
    std::fs::write(&file, bytes).unwrap();
    let out = nudge(&["rules", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:9:22: not valid UTF-8 (byte 0xE9)",
            file.display()
        )),
        "{stderr}"
    );
}

/// Runs `nudge simulate` on the retail rulebook for a day and returns its stderr.
fn simulate_fails(customers: &Path, events: Option<&Path>) -> String {
    let mut args = vec![
        "simulate",
        "--rules",
        "examples/retail-winback.yaml",
        "--customers",
        customers.to_str().unwrap(),
        "--days",
        "1",
    ];
    if let Some(events) = events {
        args.extend(["--events", events.to_str().unwrap()]);
    }
    let out = nudge(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn json_lines_that_are_not_utf8_are_located_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let customers = dir.path().join("customers.jsonl");
    let mut bytes = b"{\"id\":\"c1\",\"phone\":\"13800138001\"}\n{\"id\":\"c2\",\"phone\":\"13800138002\",\"name\":\"Ren\xE9\"}\n".to_vec();
    std::fs::write(&customers, &bytes).unwrap();
    let stderr = simulate_fails(&customers, None);
    assert!(
        stderr.contains(&format!(
            "{}:2:45: not valid UTF-8 (byte 0xE9)",
            customers.display()
        )),
        "{stderr}"
    );
    bytes.truncate(bytes.iter().position(|b| *b == b'\n').unwrap() + 1);
    std::fs::write(&customers, &bytes).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, b"{\"event_id\":\"e1\",\"customer_id\":\"c1\",\"type\":\"x\",\"occurred_at\":\"2026-01-05T00:00:00Z\"}\r\n\r\n{\"event_id\":\"e\xFF\"}\r\n").unwrap();
    let stderr = simulate_fails(&customers, Some(&events));
    assert!(
        stderr.contains(&format!(
            "{}:3:15: not valid UTF-8 (byte 0xFF)",
            events.display()
        )),
        "{stderr}"
    );
}

#[test]
fn every_semantic_error_of_an_events_file_is_listed_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let customers = dir.path().join("customers.csv");
    std::fs::write(&customers, "id,phone\nc1,13800138001\n").unwrap();
    let event = |id: &str, customer: &str, kind: &str| {
        format!(
            "{{\"event_id\":\"{id}\",\"customer_id\":\"{customer}\",\"type\":\"{kind}\",\
             \"occurred_at\":\"2026-01-05T10:00:00Z\"}}\n"
        )
    };
    let lines = [
        event("e1", "c1", "order.paid"),
        event("e2", "nobody", "order.paid"),
        event("e3", "c1", " "),
        event("e1", "c1", "product.viewed"),
        event("e4", "c1", "sms.reply"),
        event("e5", "someone", "order.paid"),
    ];
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.concat()).unwrap();
    let stderr = simulate_fails(&customers, Some(&events));
    let name = events.display();
    for expected in [
        format!("{name}:2: customer_id: customer \"nobody\" is not in the customers file"),
        format!("{name}:3: type: must be 1 to 100 printable characters"),
        format!("{name}:4: event_id: \"e1\" is already the id of a \"order.paid\" event"),
        format!("{name}:5: properties.text: a reply (sms.reply) needs its text"),
        format!("{name}:6: customer_id: customer \"someone\" is not in the customers file"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected} in {stderr}");
    }
    assert!(
        stderr.contains("5 problem(s), nothing imported"),
        "{stderr}"
    );

    // A long list is cut after 50, with the count of the rest.
    let many: String = (0..60)
        .map(|i| event(&format!("x{i}"), "nobody", "a"))
        .collect();
    std::fs::write(&events, many).unwrap();
    let stderr = simulate_fails(&customers, Some(&events));
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with(&format!("{name}:")))
            .count(),
        50,
        "{stderr}"
    );
    assert!(stderr.contains("… and 10 more problem(s)"), "{stderr}");
}

/// The one customer of `rules plan --customer` is located like the rows of a customers file:
/// bytes that are not UTF-8 at their line and column, a refused field at the line of its key.
#[test]
fn a_plan_customer_file_has_its_problems_located() {
    let dir = tempfile::tempdir().unwrap();
    let plan = |file: &Path| {
        nudge(&[
            "rules",
            "plan",
            "--rules",
            "examples/saas-lifecycle.yaml",
            "--customer",
            file.to_str().unwrap(),
            "--from",
            "2026-01-05T00:00:00Z",
            "--days",
            "2",
        ])
    };
    let not_utf8 = dir.path().join("latin1.json");
    std::fs::write(
        &not_utf8,
        b"{\n  \"id\": \"c1\",\n  \"attributes\": {\"name\": \"Ren\xe9\"},\n  \"phone\": \"+8613800138000\"\n}\n",
    )
    .unwrap();
    let out = plan(&not_utf8);
    assert!(!out.status.success());
    let expected = format!("{}:3:30: not valid UTF-8 (byte 0xE9)", not_utf8.display());
    assert!(
        text(&out.stderr).contains(&expected),
        "{}",
        text(&out.stderr)
    );
    let bad_zone = dir.path().join("zone.json");
    std::fs::write(
        &bad_zone,
        "{\n  \"id\": \"c1\",\n  \"phone\": \"+8613800138000\",\n  \"timezone\": \"Mars/Base\"\n}\n",
    )
    .unwrap();
    let out = plan(&bad_zone);
    assert!(!out.status.success());
    let expected = format!("{}:4: timezone:", bad_zone.display());
    assert!(
        text(&out.stderr).contains(&expected),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn report_delivery_shows_each_rules_receipts_and_the_numbers_given_up_on() {
    use nudge_core::domain::TenantId;
    use nudge_core::ports::{CounterStore, Counters};
    use nudge_sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nudge.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let tenant = TenantId::parse("freshmart").unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        let counters = |list: &[(&str, i64)]| -> Counters {
            list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for (rule, list) in [
                (
                    "silent-30-days",
                    &[
                        ("sent", 100),
                        ("delivered", 90),
                        ("undelivered", 6),
                        ("undelivered_unreachable", 4),
                        ("undelivered_invalid_number", 2),
                        ("number_invalid_invalid_number", 2),
                        ("skipped_number_invalid", 3),
                        ("parts", 192),
                        ("cost_micro_usd", 1_238_400),
                    ][..],
                ),
                ("reply.opt_out", &[("sent", 2), ("delivered", 2)][..]),
            ] {
                store
                    .add_stats(&tenant, day, rule, &counters(list))
                    .await
                    .unwrap();
            }
        });
    }
    let db = db.to_str().unwrap();
    let base = [
        "report",
        "delivery",
        "--rules",
        "examples/retail-winback.yaml",
        "--db",
        db,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-07",
    ];
    let out = nudge(&[&base[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = report["rules"].as_array().unwrap();
    let silent = rules
        .iter()
        .find(|r| r["rule"] == "silent-30-days")
        .unwrap();
    assert_eq!(silent["sent"], 100);
    assert_eq!(silent["awaiting_receipt"], 4);
    assert_eq!(silent["delivery_rate"], 0.9375);
    assert_eq!(
        silent["numbers_invalid"],
        serde_json::json!({"invalid_number": 2})
    );
    assert_eq!(silent["skipped_number_invalid"], 3);
    assert_eq!(
        rules.last().unwrap()["rule"],
        "reply.opt_out",
        "answers to replies come after the rulebook's rules"
    );
    assert_eq!(report["total"]["sent"], 102);
    assert_eq!(report["total"]["delivered"], 92);

    let out = nudge(&base);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("silent-30-days")[1..],
        [
            "100",
            "90",
            "6",
            "4",
            "93.8%",
            "192",
            "1.2384",
            "invalid_number=2",
            "unreachable=4"
        ]
    );
    assert!(
        table.contains("numbers given up on: 2 (invalid_number=2)"),
        "{table}"
    );
    assert!(
        table.contains("texts skipped for a number given up on: 3"),
        "{table}"
    );
    let bad = nudge(&[
        "report",
        "delivery",
        "--rules",
        "examples/retail-winback.yaml",
        "--db",
        db,
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-01",
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("--from: must not be after to"));
}

#[test]
fn report_kpis_prints_each_rules_kpis_and_the_holdout_lift() {
    use nudge_core::domain::TenantId;
    use nudge_core::ports::Counters;
    use nudge_sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nudge.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let tenant = TenantId::parse("freshmart").unwrap();
        let counters: Counters = [
            ("queued", 1000),
            ("sent", 1000),
            ("delivered", 950),
            ("undelivered", 50),
            ("replied", 100),
            ("opted_out", 4),
            ("converted", 120),
            ("conversion_value_milli", 6_000_000),
            ("skipped_holdout", 1000),
            ("held_out_converted", 80),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
            store
                .add_stats(&tenant, day, "silent-30-days", &counters)
                .await
                .unwrap();
        });
    }
    let db = db.to_str().unwrap();
    let base = [
        "report",
        "kpis",
        "--rules",
        "examples/retail-winback.yaml",
        "--db",
        db,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-07",
    ];
    let out = nudge(&base);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let silent: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("silent-30-days"))
        .unwrap_or_else(|| panic!("{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        silent[1..],
        ["1000", "1000", "95.0%", "10.0%", "0.4%", "120", "12.0%", "6000.00", "1000", "8.0%"]
    );
    assert!(
        table.contains(
            "silent-30-days (order.paid within 7d): +4.0 pts [+1.4, +6.6], relative +50% \
             [+15%, +96%]: significant"
        ),
        "{table}"
    );

    let out = nudge(&[&base[..], &["--json", "--rule", "silent-30-days"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rules"].as_array().unwrap().len(), 1);
    assert_eq!(report["rules"][0]["conversion_rate"], 0.12);
    assert_eq!(
        report["rules"][0]["lift"]["verdict"]["status"],
        "significant"
    );

    let out = nudge(&[&base[..], &["--csv"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert!(csv.starts_with("rule,day,texted,sent,"), "{csv}");
    assert!(
        csv.contains("\nsilent-30-days,2026-03-03,1000,1000,950,50,0.950000,"),
        "{csv}"
    );

    let out = nudge(&[&base[..], &["--rule", "nope"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--rule: \"nope\""),
        "{}",
        text(&out.stderr)
    );
    let out = nudge(&[&base[..], &["--json", "--csv"]].concat());
    assert!(!out.status.success());
}
