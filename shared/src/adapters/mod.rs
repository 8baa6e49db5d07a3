//! Real implementations of the ports.
pub mod aws;
pub mod clock;
pub mod console;
pub mod dynamodb;
pub mod eventbridge;
pub mod sns;
pub mod sqlite;
