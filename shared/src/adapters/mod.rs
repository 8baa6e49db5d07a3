//! Real implementations of the ports.
pub mod clock;
pub mod console;
pub mod dynamodb;
pub mod sqlite;
