//! The store conformance suite (`nudge_tests::conformance`) on every store adapter: SQLite in
//! memory and on disk, and DynamoDB on the emulator; plus each adapter's own checks.
mod dynamodb;
mod sqlite;
