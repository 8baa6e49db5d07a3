//! What nudge's cross-crate test suites and measurement examples share: the moto emulator
//! (started once per test process), the SNS wire recorder, a writer tests can read back, and
//! the store conformance suite every store adapter runs.
pub mod captured;
pub mod conformance;
pub mod moto;
pub mod wire;
