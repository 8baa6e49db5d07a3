//! The HTTP API over the DynamoDB store (moto, one table per test), through the router: the
//! same suite as `http_api.rs`, so the deployed API and `nudge dev` answer alike.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nudge_dynamodb::{create_table, DynamoStore};
use nudge_tests::moto;

async fn fresh() -> std::sync::Arc<DynamoStore> {
    let client = moto::dynamo_client().await;
    let table = moto::unique_name("nudge-http");
    create_table(&client, &table).await.unwrap();
    std::sync::Arc::new(DynamoStore::new(client, table))
}

http_api_tests!(fresh());
