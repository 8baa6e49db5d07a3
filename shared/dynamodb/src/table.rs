//! Creating the table (tests, local emulators, the cost example). Production declares the same
//! table in `infra/template.yaml`; see the module docs of `dynamodb` for what it must contain.
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use std::time::Duration;

use super::errors;
use super::keys;
use nudge_core::error::{Error, Result};

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| errors::build("create_table", e))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| errors::build("create_table", e))
}

fn index(name: &str, pk: &str, sk: &str) -> Result<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| errors::build("create_table", e))
}

/// Creates the table: on-demand, keys `PK`/`SK` (S), `GSI1` (`GSI1PK`/`GSI1SK`) and `GSI2`
/// (`GSI2PK`/`GSI2SK`) projecting all attributes, a NEW_IMAGE stream, TTL on `expires_at`.
/// Waits until the table is active.
pub async fn create_table(client: &Client, table: &str) -> Result<()> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(keys::PK, KeyType::Hash)?)
        .key_schema(key(keys::SK, KeyType::Range)?)
        .global_secondary_indexes(index(keys::GSI1, keys::GSI1PK, keys::GSI1SK)?)
        .global_secondary_indexes(index(keys::GSI2, keys::GSI2PK, keys::GSI2SK)?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| errors::build("create_table", e))?,
        );
    for name in [
        keys::PK,
        keys::SK,
        keys::GSI1PK,
        keys::GSI1SK,
        keys::GSI2PK,
        keys::GSI2SK,
    ] {
        request = request.attribute_definitions(string_attribute(name)?);
    }
    request
        .send()
        .await
        .map_err(|e| errors::store("create_table", e))?;
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(120))
        .await
        // The waiter's error wraps the SDK's; its Display is short ("failed waiting …").
        .map_err(|e| Error::Store(format!("dynamodb wait_until_table_exists: {e}")))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(keys::EXPIRES_AT)
                .build()
                .map_err(|e| errors::build("update_time_to_live", e))?,
        )
        .send()
        .await
        .map_err(|e| errors::store("update_time_to_live", e))?;
    Ok(())
}
