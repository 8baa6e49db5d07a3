//! The HTTP API through the router (no sockets): the same suite on the SQLite store and on
//! DynamoDB (moto), and the ingest function's API Gateway adapter in front of it.
#[macro_use]
mod suite;

mod dynamodb;
mod fuzz;
mod ingest_lambda;
mod sqlite;
mod tencent;
