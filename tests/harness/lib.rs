//! What nudge's cross-crate test suites and measurement examples share: the moto emulator
//! (started once per test process), the SNS wire recorder, a writer tests can read back, and
//! the store conformance suite every store adapter runs.
pub mod captured;
pub mod conformance;
pub mod logs;
pub mod moto;
pub mod texts;
pub mod wire;

/// The configuration of the generated-input (fuzz-style) tests: `default` cases, so CI spends
/// the same time on every run, or `PROPTEST_CASES` for a longer hunt; no failure files are
/// written into the tree.
pub fn generated_cases(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
