//! The Lambda functions' handlers: on the embedded store with the sample events of
//! `infra/events/`, end to end on the emulator (DynamoDB, its stream, SNS, EventBridge), and
//! the SNS and EventBridge adapters on the wire.
mod aws_adapters;
mod aws_end_to_end;
mod handlers;
