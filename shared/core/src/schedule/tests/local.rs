use serde_json::json;

use super::{date, time, utc, zone};
use crate::domain::local_to_utc;
use crate::schedule::{attribute_date, ceil_to_minute, AttrInstant};

#[test]
fn local_times_resolve_across_dst() {
    let cases = [
        // New York, spring forward 2027-03-14: 02:00 EST jumps to 03:00 EDT at 07:00Z.
        (
            "America/New_York",
            "2027-03-14",
            "01:59",
            "2027-03-14T06:59:00Z",
        ), // EST −5
        (
            "America/New_York",
            "2027-03-14",
            "02:00",
            "2027-03-14T07:00:00Z",
        ), // gap → 03:00 EDT
        (
            "America/New_York",
            "2027-03-14",
            "02:30",
            "2027-03-14T07:00:00Z",
        ), // gap → 03:00 EDT
        (
            "America/New_York",
            "2027-03-14",
            "03:00",
            "2027-03-14T07:00:00Z",
        ), // EDT −4
        (
            "America/New_York",
            "2027-03-14",
            "10:00",
            "2027-03-14T14:00:00Z",
        ),
        (
            "America/New_York",
            "2026-03-08",
            "02:30",
            "2026-03-08T07:00:00Z",
        ), // gap → 03:00 EDT
        // New York, fall back 2027-11-07: 01:00–02:00 happens twice (EDT, then EST).
        (
            "America/New_York",
            "2027-11-07",
            "00:59",
            "2027-11-07T04:59:00Z",
        ), // EDT −4
        (
            "America/New_York",
            "2027-11-07",
            "01:00",
            "2027-11-07T05:00:00Z",
        ), // earlier (EDT)
        (
            "America/New_York",
            "2027-11-07",
            "01:30",
            "2027-11-07T05:30:00Z",
        ), // not 06:30 (EST)
        (
            "America/New_York",
            "2027-11-07",
            "02:00",
            "2027-11-07T07:00:00Z",
        ), // EST −5
        (
            "America/New_York",
            "2027-11-07",
            "10:00",
            "2027-11-07T15:00:00Z",
        ),
        // Berlin, spring forward 2027-03-28: 02:00 CET jumps to 03:00 CEST at 01:00Z.
        (
            "Europe/Berlin",
            "2027-03-28",
            "01:59",
            "2027-03-28T00:59:00Z",
        ), // CET +1
        (
            "Europe/Berlin",
            "2027-03-28",
            "02:30",
            "2027-03-28T01:00:00Z",
        ), // gap → 03:00 CEST
        (
            "Europe/Berlin",
            "2027-03-28",
            "10:00",
            "2027-03-28T08:00:00Z",
        ), // CEST +2
        (
            "Europe/Berlin",
            "2026-03-29",
            "02:15",
            "2026-03-29T01:00:00Z",
        ), // gap → 03:00 CEST
        // Berlin, fall back 2027-10-31: 02:00–03:00 happens twice (CEST, then CET).
        (
            "Europe/Berlin",
            "2027-10-31",
            "02:30",
            "2027-10-31T00:30:00Z",
        ), // earlier (CEST)
        (
            "Europe/Berlin",
            "2026-10-25",
            "02:59",
            "2026-10-25T00:59:00Z",
        ), // earlier (CEST)
        (
            "Europe/Berlin",
            "2027-10-31",
            "03:00",
            "2027-10-31T02:00:00Z",
        ), // CET +1
        // Los Angeles gap is at 10:00Z; Shanghai has no DST.
        (
            "America/Los_Angeles",
            "2027-03-14",
            "02:30",
            "2027-03-14T10:00:00Z",
        ),
        (
            "Asia/Shanghai",
            "2027-03-14",
            "02:30",
            "2027-03-13T18:30:00Z",
        ),
    ];
    for (tz, day, at, expected) in cases {
        assert_eq!(
            local_to_utc(date(day), time(at), zone(tz)),
            utc(expected),
            "{day} {at} in {tz}"
        );
    }
}

#[test]
fn every_local_minute_of_a_fall_back_day_maps_to_one_distinct_instant() {
    // The repeated hour maps only to its first pass, so 24 h of local minutes give 1440
    // distinct instants even though that day lasts 25 h.
    let tz = zone("America/New_York");
    let day = date("2027-11-07");
    let mut seen = std::collections::BTreeSet::new();
    for minute in 0..24 * 60 {
        let at = chrono::NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap();
        assert!(seen.insert(local_to_utc(day, at, tz)), "{at} repeated");
    }
    assert_eq!(seen.len(), 1440);
}

#[test]
fn rounds_up_to_the_minute() {
    let cases = [
        ("2027-03-14T10:00:00Z", "2027-03-14T10:00:00Z"),
        ("2027-03-14T10:00:01Z", "2027-03-14T10:01:00Z"),
        ("2027-03-14T10:00:00.000000001Z", "2027-03-14T10:01:00Z"),
        ("2027-03-14T10:59:59Z", "2027-03-14T11:00:00Z"),
        ("2027-12-31T23:59:30Z", "2028-01-01T00:00:00Z"),
        // Before the epoch the timestamp is negative; rounding must still go up.
        ("1969-12-31T23:59:30Z", "1970-01-01T00:00:00Z"),
    ];
    for (input, expected) in cases {
        assert_eq!(ceil_to_minute(utc(input)), utc(expected), "{input}");
    }
}

#[test]
fn parses_date_attributes() {
    let cases = [
        (
            json!("2026-03-05"),
            Some(AttrInstant::Date(date("2026-03-05"))),
        ),
        (
            json!(" 2026-03-05 "),
            Some(AttrInstant::Date(date("2026-03-05"))),
        ),
        (
            json!("2026-03-05T08:30:00Z"),
            Some(AttrInstant::Instant(utc("2026-03-05T08:30:00Z"))),
        ),
        // 08:30 at +08:00 is 00:30 UTC.
        (
            json!("2026-03-05T08:30:00+08:00"),
            Some(AttrInstant::Instant(utc("2026-03-05T00:30:00Z"))),
        ),
        (json!("2026-02-30"), None),
        (json!("05/03/2026"), None),
        (json!("soon"), None),
        (json!(""), None),
        (json!(20260305), None),
        (json!(null), None),
        (json!({"date": "2026-03-05"}), None),
    ];
    for (value, expected) in cases {
        assert_eq!(attribute_date(&value), expected, "{value}");
    }
}

#[test]
fn instants_have_a_local_date_per_zone() {
    let cases = [
        // 20:00Z is 04:00 next day in Shanghai, 13:00 PDT and 22:00 CEST the same day.
        ("2026-06-01T20:00:00Z", "Asia/Shanghai", "2026-06-02"),
        ("2026-06-01T20:00:00Z", "America/Los_Angeles", "2026-06-01"),
        ("2026-06-01T20:00:00Z", "Europe/Berlin", "2026-06-01"),
        // 02:00Z is 18:00 PST the day before.
        ("2026-03-05T02:00:00Z", "America/Los_Angeles", "2026-03-04"),
    ];
    for (instant, tz, expected) in cases {
        let attr = AttrInstant::Instant(utc(instant));
        assert_eq!(
            attr.local_date(zone(tz)),
            date(expected),
            "{instant} in {tz}"
        );
    }
    let bare = AttrInstant::Date(date("2026-03-05"));
    assert_eq!(
        bare.local_date(zone("Pacific/Kiritimati")),
        date("2026-03-05")
    );
}
