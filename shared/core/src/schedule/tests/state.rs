use chrono_tz::Tz;
use serde_json::{json, Value};

use super::{customer, span, time, utc, zone};
use crate::domain::{Customer, Span};
use crate::rulebook::Trigger;
use crate::schedule::{next_state_due, Due};

const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

fn date_rule(attribute: &str, offset: &str, at: Option<&str>) -> Trigger {
    Trigger::Date {
        attribute: attribute.into(),
        offset: span(offset),
        at: at.map(time),
    }
}

fn anniversary(attribute: &str, offset: &str, at: Option<&str>) -> Trigger {
    Trigger::Anniversary {
        attribute: attribute.into(),
        offset: span(offset),
        at: at.map(time),
    }
}

fn every(attribute: &str, interval: &str, at: Option<&str>) -> Trigger {
    Trigger::Every {
        attribute: attribute.into(),
        interval: span(interval),
        at: at.map(time),
    }
}

fn inactive(after: &str, at: Option<&str>) -> Trigger {
    Trigger::Inactive {
        event_type: "order.paid".into(),
        after: span(after),
        at: at.map(time),
    }
}

fn due(occurrence: &str, at: &str) -> Option<Due> {
    Some(Due {
        occurrence: occurrence.into(),
        due: utc(at),
    })
}

/// (trigger, customer zone, attribute value, now, expected)
type Case = (
    Trigger,
    Option<&'static str>,
    Value,
    &'static str,
    Option<Due>,
);

fn check(attribute: &str, cases: Vec<Case>) {
    for (trigger, tz, value, now, expected) in cases {
        let who = customer(tz, attribute, value.clone());
        assert_eq!(
            next_state_due(&trigger, &who, SHANGHAI, utc(now)),
            expected,
            "{trigger:?} {tz:?} {value} at {now}"
        );
    }
}

#[test]
fn date_rule_at_a_local_time_depends_on_the_customer_zone() {
    let rule = || date_rule("trial_started_at", "7d", Some("10:00"));
    let now = "2026-06-01T00:00:00Z";
    check(
        "trial_started_at",
        vec![
            // Local 2026-06-08 10:00: CST +8 → 02:00Z, PDT −7 → 17:00Z, CEST +2 → 08:00Z.
            (
                rule(),
                Some("Asia/Shanghai"),
                json!("2026-06-01"),
                now,
                due("2026-06-08", "2026-06-08T02:00:00Z"),
            ),
            (
                rule(),
                Some("America/Los_Angeles"),
                json!("2026-06-01"),
                now,
                due("2026-06-08", "2026-06-08T17:00:00Z"),
            ),
            (
                rule(),
                Some("Europe/Berlin"),
                json!("2026-06-01"),
                now,
                due("2026-06-08", "2026-06-08T08:00:00Z"),
            ),
            // No zone: the tenant default (Shanghai).
            (
                rule(),
                None,
                json!("2026-06-01"),
                now,
                due("2026-06-08", "2026-06-08T02:00:00Z"),
            ),
            // An unknown zone also falls back to the tenant default.
            (
                rule(),
                Some("Mars/Olympus"),
                json!("2026-06-01"),
                now,
                due("2026-06-08", "2026-06-08T02:00:00Z"),
            ),
            // 20:00Z is already 06-02 in Shanghai (→ 06-09 10:00 CST = 02:00Z), still 06-01 in
            // Los Angeles (→ 06-08 10:00 PDT = 17:00Z) and Berlin (→ 06-08 10:00 CEST = 08:00Z).
            (
                rule(),
                Some("Asia/Shanghai"),
                json!("2026-06-01T20:00:00Z"),
                now,
                due("2026-06-09", "2026-06-09T02:00:00Z"),
            ),
            (
                rule(),
                Some("America/Los_Angeles"),
                json!("2026-06-01T20:00:00Z"),
                now,
                due("2026-06-08", "2026-06-08T17:00:00Z"),
            ),
            (
                rule(),
                Some("Europe/Berlin"),
                json!("2026-06-01T20:00:00Z"),
                now,
                due("2026-06-08", "2026-06-08T08:00:00Z"),
            ),
        ],
    );
}

#[test]
fn date_rule_defaults_and_dst() {
    let ny = Some("America/New_York");
    check(
        "d",
        vec![
            // Instant without `at`: exact. 2026-06-08T20:00:30Z rounds up to 20:01; that is
            // 04:00 on 06-09 in Shanghai, which names the occurrence.
            (
                date_rule("d", "7d", None),
                None,
                json!("2026-06-01T20:00:30Z"),
                "2026-06-01T00:00:00Z",
                due("2026-06-09", "2026-06-08T20:01:00Z"),
            ),
            // Bare date without `at`: local midnight + offset; 2026-06-08 00:00 CEST = 06-07 22:00Z.
            (
                date_rule("d", "7d", None),
                Some("Europe/Berlin"),
                json!("2026-06-01"),
                "2026-06-01T00:00:00Z",
                due("2026-06-08", "2026-06-07T22:00:00Z"),
            ),
            // Bare date + 12h: local noon, 2026-06-08 12:00 CEST = 10:00Z.
            (
                date_rule("d", "7d12h", None),
                Some("Europe/Berlin"),
                json!("2026-06-01"),
                "2026-06-01T00:00:00Z",
                due("2026-06-08", "2026-06-08T10:00:00Z"),
            ),
            // Local 2027-03-14 02:30 does not exist in New York → 03:00 EDT = 07:00Z.
            (
                date_rule("d", "4d", Some("02:30")),
                ny,
                json!("2027-03-10"),
                "2027-03-01T00:00:00Z",
                due("2027-03-14", "2027-03-14T07:00:00Z"),
            ),
            // `at` keeps the wall clock across DST: 2027-03-17 10:00 EDT = 14:00Z (not 15:00Z).
            (
                date_rule("d", "7d", Some("10:00")),
                ny,
                json!("2027-03-10"),
                "2027-03-01T00:00:00Z",
                due("2027-03-17", "2027-03-17T14:00:00Z"),
            ),
            // Bare date without `at` too: 2027-03-17 00:00 EDT = 04:00Z.
            (
                date_rule("d", "7d", None),
                ny,
                json!("2027-03-10"),
                "2027-03-01T00:00:00Z",
                due("2027-03-17", "2027-03-17T04:00:00Z"),
            ),
            // An instant is exact: 10:00 EST (15:00Z) + 7d = 15:00Z, i.e. 11:00 EDT.
            (
                date_rule("d", "7d", None),
                ny,
                json!("2027-03-10T15:00:00Z"),
                "2027-03-01T00:00:00Z",
                due("2027-03-17", "2027-03-17T15:00:00Z"),
            ),
            // Local 2027-11-07 01:30 happens twice in New York → the first pass, EDT 05:30Z.
            (
                date_rule("d", "0s", Some("01:30")),
                ny,
                json!("2027-11-07"),
                "2027-11-01T00:00:00Z",
                due("2027-11-07", "2027-11-07T05:30:00Z"),
            ),
        ],
    );
}

#[test]
fn date_rule_with_negative_offsets() {
    check(
        "renewal_date",
        vec![
            // −15d: 2027-01-16 09:00 CST = 01:00Z.
            (
                date_rule("renewal_date", "-15d", Some("09:00")),
                Some("Asia/Shanghai"),
                json!("2027-01-31"),
                "2027-01-01T00:00:00Z",
                due("2027-01-16", "2027-01-16T01:00:00Z"),
            ),
            // −1mo from Mar 31 clamps to Feb 28: 09:00 CET = 08:00Z.
            (
                date_rule("renewal_date", "-1mo", Some("09:00")),
                Some("Europe/Berlin"),
                json!("2027-03-31"),
                "2027-01-01T00:00:00Z",
                due("2027-02-28", "2027-02-28T08:00:00Z"),
            ),
            // −3d across the year end: 2026-12-29 10:00 PST = 18:00Z.
            (
                date_rule("renewal_date", "-3d", Some("10:00")),
                Some("America/Los_Angeles"),
                json!("2027-01-01"),
                "2026-12-01T00:00:00Z",
                due("2026-12-29", "2026-12-29T18:00:00Z"),
            ),
        ],
    );
}

#[test]
fn date_rule_never_fires_retroactively() {
    let rule = || date_rule("d", "7d", Some("10:00"));
    check(
        "d",
        vec![
            // Due 2026-06-08T02:00Z: pending at that very minute, gone a second later.
            (
                rule(),
                None,
                json!("2026-06-01"),
                "2026-06-08T02:00:00Z",
                due("2026-06-08", "2026-06-08T02:00:00Z"),
            ),
            (
                rule(),
                None,
                json!("2026-06-01"),
                "2026-06-08T02:00:01Z",
                None,
            ),
            (
                rule(),
                None,
                json!("2026-05-01"),
                "2026-06-01T00:00:00Z",
                None,
            ),
            // Rounded due counts: raw 20:00:30Z is due 20:01Z, still pending at 20:00:45Z.
            (
                date_rule("d", "0s", None),
                None,
                json!("2026-06-01T20:00:30Z"),
                "2026-06-01T20:00:45Z",
                due("2026-06-02", "2026-06-01T20:01:00Z"),
            ),
            // Unreadable attribute.
            (
                rule(),
                None,
                json!("next week"),
                "2026-01-01T00:00:00Z",
                None,
            ),
            (
                rule(),
                None,
                json!(1_780_000_000),
                "2026-01-01T00:00:00Z",
                None,
            ),
        ],
    );
    let who = customer(None, "other", json!("2026-06-01"));
    assert_eq!(
        next_state_due(&rule(), &who, SHANGHAI, utc("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn anniversaries_of_feb_29_and_across_the_year_end() {
    let shanghai = Some("Asia/Shanghai");
    let berlin = Some("Europe/Berlin");
    check(
        "birthday",
        vec![
            // 2027 has no Feb 29 → Feb 28 10:00 CST = 02:00Z; 2028 does.
            (
                anniversary("birthday", "0d", Some("10:00")),
                shanghai,
                json!("2000-02-29"),
                "2027-01-01T00:00:00Z",
                due("2027", "2027-02-28T02:00:00Z"),
            ),
            (
                anniversary("birthday", "0d", Some("10:00")),
                shanghai,
                json!("2000-02-29"),
                "2027-03-01T00:00:00Z",
                due("2028", "2028-02-29T02:00:00Z"),
            ),
            // −3d applies after the mapping: 2027-02-25 and 2028-02-26.
            (
                anniversary("birthday", "-3d", Some("10:00")),
                shanghai,
                json!("2000-02-29"),
                "2027-01-01T00:00:00Z",
                due("2027", "2027-02-25T02:00:00Z"),
            ),
            (
                anniversary("birthday", "-3d", Some("10:00")),
                shanghai,
                json!("2000-02-29"),
                "2027-02-26T00:00:00Z",
                due("2028", "2028-02-26T02:00:00Z"),
            ),
            // Jan 2 − 3d = Dec 30 of the year before, 10:00 CET = 09:00Z; named by the
            // anniversary's own year so it stays stable across the year end.
            (
                anniversary("birthday", "-3d", Some("10:00")),
                berlin,
                json!("1990-01-02"),
                "2026-12-01T00:00:00Z",
                due("2027", "2026-12-30T09:00:00Z"),
            ),
            (
                anniversary("birthday", "-3d", Some("10:00")),
                berlin,
                json!("1990-01-02"),
                "2026-12-30T09:00:00Z",
                due("2027", "2026-12-30T09:00:00Z"),
            ),
            (
                anniversary("birthday", "-3d", Some("10:00")),
                berlin,
                json!("1990-01-02"),
                "2026-12-30T09:00:01Z",
                due("2028", "2027-12-30T09:00:00Z"),
            ),
            (
                anniversary("birthday", "-3d", Some("10:00")),
                berlin,
                json!("1990-01-02"),
                "2027-01-01T00:00:00Z",
                due("2028", "2027-12-30T09:00:00Z"),
            ),
            // Dec 30 + 5d lands in the next year, still the 2026 anniversary: 2027-01-04 02:00Z.
            (
                anniversary("birthday", "5d", Some("10:00")),
                shanghai,
                json!("2020-12-30"),
                "2027-01-02T00:00:00Z",
                due("2026", "2027-01-04T02:00:00Z"),
            ),
            // −1mo from Mar 31 → Feb 28, 09:00 CET = 08:00Z.
            (
                anniversary("birthday", "-1mo", Some("09:00")),
                berlin,
                json!("2020-03-31"),
                "2027-01-01T00:00:00Z",
                due("2027", "2027-02-28T08:00:00Z"),
            ),
        ],
    );
}

#[test]
fn anniversary_defaults_and_edges() {
    check(
        "since",
        vec![
            // No `at`: 10:00 local; 2026-07-15 10:00 PDT = 17:00Z.
            (
                anniversary("since", "0d", None),
                Some("America/Los_Angeles"),
                json!("1990-07-15"),
                "2026-01-01T00:00:00Z",
                due("2026", "2026-07-15T17:00:00Z"),
            ),
            // An instant's month/day is read locally: 1990-07-15T23:30Z is Jul 16 in Shanghai.
            (
                anniversary("since", "0d", None),
                Some("Asia/Shanghai"),
                json!("1990-07-15T23:30:00Z"),
                "2026-01-01T00:00:00Z",
                due("2026", "2026-07-16T02:00:00Z"),
            ),
            // The attribute's own year is not an anniversary, even when it is still ahead.
            (
                anniversary("since", "0d", None),
                Some("Asia/Shanghai"),
                json!("2026-03-05"),
                "2026-01-01T00:00:00Z",
                due("2027", "2027-03-05T02:00:00Z"),
            ),
            (
                anniversary("since", "0d", None),
                Some("Asia/Shanghai"),
                json!("2030-03-05"),
                "2026-01-01T00:00:00Z",
                due("2031", "2031-03-05T02:00:00Z"),
            ),
            // 02:30 on the spring-forward day in New York → 03:00 EDT = 07:00Z.
            (
                anniversary("since", "0d", Some("02:30")),
                Some("America/New_York"),
                json!("2000-03-14"),
                "2027-01-01T00:00:00Z",
                due("2027", "2027-03-14T07:00:00Z"),
            ),
            (
                anniversary("since", "0d", None),
                None,
                json!("garbage"),
                "2027-01-01T00:00:00Z",
                None,
            ),
        ],
    );
}

fn with_last_order(last_at: &str) -> Customer {
    let mut who = customer(None, "name", json!("Li"));
    who.record_activity("order.paid", utc("2026-01-10T00:00:00Z"));
    who.record_activity("order.paid", utc(last_at));
    who
}

#[test]
fn inactive_fires_once_per_episode() {
    let cases = [
        // 2026-05-01T12:00Z + 30d = 2026-05-31T12:00Z, named by the baseline.
        (
            "2026-05-01T12:00:00Z",
            None,
            None,
            "2026-05-10T00:00:00Z",
            due("2026-05-01T12:00:00Z", "2026-05-31T12:00:00Z"),
        ),
        // A newer order re-arms with a new occurrence: 06-19T08:15:30Z rounds up to 08:16Z.
        (
            "2026-05-20T08:15:30Z",
            None,
            None,
            "2026-05-21T00:00:00Z",
            due("2026-05-20T08:15:30Z", "2026-06-19T08:16:00Z"),
        ),
        (
            "2026-05-01T12:00:00.250Z",
            None,
            None,
            "2026-05-10T00:00:00Z",
            due("2026-05-01T12:00:00.250Z", "2026-05-31T12:01:00Z"),
        ),
        // Pending at its minute, never afterwards (not retroactive).
        (
            "2026-05-01T12:00:00Z",
            None,
            None,
            "2026-05-31T12:00:00Z",
            due("2026-05-01T12:00:00Z", "2026-05-31T12:00:00Z"),
        ),
        (
            "2026-05-01T12:00:00Z",
            None,
            None,
            "2026-05-31T12:00:01Z",
            None,
        ),
        (
            "2026-05-01T12:00:00Z",
            None,
            None,
            "2026-07-01T00:00:00Z",
            None,
        ),
        // With `at`: quiet until 05-31T12:00Z = 20:00 CST, past 10:00 → 06-01 10:00 CST = 02:00Z.
        (
            "2026-05-01T12:00:00Z",
            Some("Asia/Shanghai"),
            Some("10:00"),
            "2026-05-10T00:00:00Z",
            due("2026-05-01T12:00:00Z", "2026-06-01T02:00:00Z"),
        ),
        // Same instant is 05:00 PDT, before 10:00 → same day 10:00 PDT = 17:00Z.
        (
            "2026-05-01T12:00:00Z",
            Some("America/Los_Angeles"),
            Some("10:00"),
            "2026-05-10T00:00:00Z",
            due("2026-05-01T12:00:00Z", "2026-05-31T17:00:00Z"),
        ),
    ];
    for (last_at, tz, at, now, expected) in cases {
        let mut who = with_last_order(last_at);
        who.timezone = tz.map(str::to_owned);
        assert_eq!(
            next_state_due(&inactive("30d", at), &who, SHANGHAI, utc(now)),
            expected,
            "{last_at} {tz:?} {at:?} at {now}"
        );
    }
}

#[test]
fn inactive_needs_a_baseline() {
    let never = customer(None, "name", json!("Li"));
    let now = utc("2026-05-10T00:00:00Z");
    assert_eq!(
        next_state_due(&inactive("30d", None), &never, SHANGHAI, now),
        None
    );
    let mut other = never.clone();
    other.record_activity("app.opened", utc("2026-05-01T12:00:00Z"));
    assert_eq!(
        next_state_due(&inactive("30d", None), &other, SHANGHAI, now),
        None
    );
}

#[test]
fn every_interval_from_an_attribute() {
    let shanghai = Some("Asia/Shanghai");
    let berlin = Some("Europe/Berlin");
    check(
        "paid_at",
        vec![
            // Yearly at 10:00 CST (02:00Z), never at paid_at itself.
            (
                every("paid_at", "12mo", Some("10:00")),
                shanghai,
                json!("2025-03-15"),
                "2020-01-01T00:00:00Z",
                due("2026-03-15", "2026-03-15T02:00:00Z"),
            ),
            (
                every("paid_at", "12mo", Some("10:00")),
                shanghai,
                json!("2025-03-15"),
                "2026-01-01T00:00:00Z",
                due("2026-03-15", "2026-03-15T02:00:00Z"),
            ),
            (
                every("paid_at", "12mo", Some("10:00")),
                shanghai,
                json!("2025-03-15"),
                "2026-03-15T02:00:01Z",
                due("2027-03-15", "2027-03-15T02:00:00Z"),
            ),
            (
                every("paid_at", "1y", Some("10:00")),
                shanghai,
                json!("2025-03-15"),
                "2126-01-01T00:00:00Z",
                due("2126-03-15", "2126-03-15T02:00:00Z"),
            ),
            // Monthly from Jan 31, each from the origin: Feb 28 (CET, 08:00Z), Mar 31 and
            // Apr 30 (CEST after Mar 28, 07:00Z), not Mar 28.
            (
                every("paid_at", "1mo", Some("09:00")),
                berlin,
                json!("2027-01-31"),
                "2027-02-01T00:00:00Z",
                due("2027-02-28", "2027-02-28T08:00:00Z"),
            ),
            (
                every("paid_at", "1mo", Some("09:00")),
                berlin,
                json!("2027-01-31"),
                "2027-03-01T00:00:00Z",
                due("2027-03-31", "2027-03-31T07:00:00Z"),
            ),
            (
                every("paid_at", "1mo", Some("09:00")),
                berlin,
                json!("2027-01-31"),
                "2027-04-01T00:00:00Z",
                due("2027-04-30", "2027-04-30T07:00:00Z"),
            ),
            // Instant without `at`: exact; 22:20 CST names the date.
            (
                every("paid_at", "12mo", None),
                shanghai,
                json!("2025-06-10T14:20:00Z"),
                "2030-01-01T00:00:00Z",
                due("2030-06-10", "2030-06-10T14:20:00Z"),
            ),
            // Weekly at 10:00 across the New York spring forward: 10:00 EDT = 14:00Z.
            (
                every("paid_at", "7d", Some("10:00")),
                Some("America/New_York"),
                json!("2027-03-07"),
                "2027-03-08T00:00:00Z",
                due("2027-03-14", "2027-03-14T14:00:00Z"),
            ),
            // Nonsense intervals and attributes.
            (
                every("paid_at", "0s", None),
                shanghai,
                json!("2025-03-15"),
                "2026-01-01T00:00:00Z",
                None,
            ),
            (
                every("paid_at", "-1mo", None),
                shanghai,
                json!("2025-03-15"),
                "2026-01-01T00:00:00Z",
                None,
            ),
            (
                every("paid_at", "1mo", None),
                shanghai,
                json!(true),
                "2026-01-01T00:00:00Z",
                None,
            ),
        ],
    );
}

#[test]
fn event_driven_triggers_have_no_state_due() {
    let who = customer(None, "paid_at", json!("2025-03-15"));
    let now = utc("2026-01-01T00:00:00Z");
    let triggers = [
        Trigger::Event {
            event_type: "order.paid".into(),
            delay: Span::ZERO,
            filter: None,
        },
        Trigger::Count {
            event_type: "product.viewed".into(),
            times: 3,
            within: span("7d"),
            delay: Span::ZERO,
        },
    ];
    for trigger in triggers {
        assert_eq!(
            next_state_due(&trigger, &who, zone("Asia/Shanghai"), now),
            None,
            "{trigger:?}"
        );
    }
}
