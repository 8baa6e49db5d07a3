//! The table the store uses ([`definition`]) and creating it (tests, local emulators, the cost
//! example). Production declares the same table in `infra/template.yaml`; a test here reads
//! that file and fails when the two differ.
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

/// A key of the table or of an index: partition (hash) and sort (range) attributes, both
/// strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySchema {
    pub hash: &'static str,
    pub range: &'static str,
}

/// A global secondary index; every index projects all attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub key: KeySchema,
}

/// The table as the store uses it: what `infra/template.yaml` declares and [`create_table`]
/// creates. Names are spelled as CloudFormation and the DynamoDB API spell them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDefinition {
    pub billing_mode: &'static str,
    pub key: KeySchema,
    pub indexes: [IndexDefinition; 2],
    /// The stream's view type: the send function reads new images only.
    pub stream_view_type: &'static str,
    /// The attribute holding an item's expiry (epoch seconds).
    pub ttl_attribute: &'static str,
}

impl TableDefinition {
    /// Every key attribute of the table and its indexes (all strings), each once.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.key.hash, self.key.range];
        for index in &self.indexes {
            for name in [index.key.hash, index.key.range] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// The table: on-demand, keys `PK`/`SK`, `GSI1` (`GSI1PK`/`GSI1SK`, phone → customer) and
/// `GSI2` (`GSI2PK`/`GSI2SK`, the sparse outbox), a NEW_IMAGE stream, TTL on `expires_at`.
pub fn definition() -> TableDefinition {
    TableDefinition {
        billing_mode: "PAY_PER_REQUEST",
        key: KeySchema {
            hash: keys::PK,
            range: keys::SK,
        },
        indexes: [
            IndexDefinition {
                name: keys::GSI1,
                key: KeySchema {
                    hash: keys::GSI1PK,
                    range: keys::GSI1SK,
                },
            },
            IndexDefinition {
                name: keys::GSI2,
                key: KeySchema {
                    hash: keys::GSI2PK,
                    range: keys::GSI2SK,
                },
            },
        ],
        stream_view_type: "NEW_IMAGE",
        ttl_attribute: keys::EXPIRES_AT,
    }
}

fn key_schema(key: KeySchema) -> Result<Vec<KeySchemaElement>> {
    [(key.hash, KeyType::Hash), (key.range, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| errors::build("create_table", e))
        })
        .collect()
}

fn string_attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| errors::build("create_table", e))
}

fn index(index: &IndexDefinition) -> Result<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .set_key_schema(Some(key_schema(index.key)?))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| errors::build("create_table", e))
}

/// Creates the table the store uses (keys, indexes, stream and TTL as `definition` says) and
/// waits until it is active.
pub async fn create_table(client: &Client, table: &str) -> Result<()> {
    let definition = definition();
    let indexes = definition
        .indexes
        .iter()
        .map(index)
        .collect::<Result<Vec<_>>>()?;
    let attributes = definition
        .key_attributes()
        .into_iter()
        .map(string_attribute)
        .collect::<Result<Vec<_>>>()?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(definition.billing_mode))
        .set_key_schema(Some(key_schema(definition.key)?))
        .set_global_secondary_indexes(Some(indexes))
        .set_attribute_definitions(Some(attributes))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(definition.stream_view_type))
                .build()
                .map_err(|e| errors::build("create_table", e))?,
        )
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
                .attribute_name(definition.ttl_attribute)
                .build()
                .map_err(|e| errors::build("update_time_to_live", e))?,
        )
        .send()
        .await
        .map_err(|e| errors::store("update_time_to_live", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    //! `infra/template.yaml` is read with only the parts checked here typed; everything else,
    //! CloudFormation's `!Ref`/`!Sub`/`!GetAtt` tags included, is skipped unread.
    use super::*;
    use crate::keys::kind;
    use nudge_core::domain::MessageStatus;
    use serde::Deserialize;
    use serde_json::{json, Value};
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Template {
        resources: Resources,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Resources {
        table: Resource<TableProperties>,
        send_function: Resource<FunctionProperties>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Resource<P> {
        #[serde(rename = "Type")]
        kind: String,
        properties: P,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TableProperties {
        billing_mode: String,
        attribute_definitions: Vec<AttributeFile>,
        key_schema: Vec<KeyElementFile>,
        global_secondary_indexes: Vec<IndexFile>,
        time_to_live_specification: TtlFile,
        stream_specification: StreamFile,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AttributeFile {
        attribute_name: String,
        attribute_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct KeyElementFile {
        attribute_name: String,
        key_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct IndexFile {
        index_name: String,
        key_schema: Vec<KeyElementFile>,
        projection: ProjectionFile,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ProjectionFile {
        projection_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TtlFile {
        attribute_name: String,
        enabled: bool,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct StreamFile {
        stream_view_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct FunctionProperties {
        events: BTreeMap<String, Resource<StreamEventProperties>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct StreamEventProperties {
        filter_criteria: FilterCriteria,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct FilterCriteria {
        filters: Vec<FilterFile>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct FilterFile {
        pattern: String,
    }

    fn template() -> Template {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// (hash, range) of a CloudFormation key schema.
    fn key_of(elements: &[KeyElementFile]) -> (String, String) {
        let named = |key_type: &str| {
            let found: Vec<&str> = elements
                .iter()
                .filter(|e| e.key_type == key_type)
                .map(|e| e.attribute_name.as_str())
                .collect();
            assert_eq!(found.len(), 1, "one {key_type} key in {found:?}");
            found[0].to_string()
        };
        assert_eq!(elements.len(), 2, "a partition and a sort key");
        (named("HASH"), named("RANGE"))
    }

    fn pair(key: KeySchema) -> (String, String) {
        (key.hash.to_string(), key.range.to_string())
    }

    #[test]
    fn the_template_declares_the_table_the_store_uses() {
        let table = template().resources.table;
        assert_eq!(table.kind, "AWS::DynamoDB::Table");
        let declared = table.properties;
        let definition = definition();

        assert_eq!(declared.billing_mode, definition.billing_mode);
        assert_eq!(key_of(&declared.key_schema), pair(definition.key));
        let indexes: Vec<(String, (String, String), String)> = declared
            .global_secondary_indexes
            .iter()
            .map(|i| {
                (
                    i.index_name.clone(),
                    key_of(&i.key_schema),
                    i.projection.projection_type.clone(),
                )
            })
            .collect();
        let expected: Vec<(String, (String, String), String)> = definition
            .indexes
            .iter()
            .map(|i| (i.name.to_string(), pair(i.key), "ALL".to_string()))
            .collect();
        assert_eq!(indexes, expected);
        let attributes: BTreeSet<(String, String)> = declared
            .attribute_definitions
            .iter()
            .map(|a| (a.attribute_name.clone(), a.attribute_type.clone()))
            .collect();
        let expected: BTreeSet<(String, String)> = definition
            .key_attributes()
            .into_iter()
            .map(|name| (name.to_string(), "S".to_string()))
            .collect();
        assert_eq!(attributes, expected);
        assert_eq!(
            declared.stream_specification.stream_view_type,
            definition.stream_view_type
        );
        assert!(declared.time_to_live_specification.enabled);
        assert_eq!(
            declared.time_to_live_specification.attribute_name,
            definition.ttl_attribute
        );
    }

    /// The send function is handed only the records the stream module can send from.
    #[test]
    fn the_send_function_receives_new_and_changed_queued_messages() {
        let function = template().resources.send_function;
        let streams: Vec<_> = function
            .properties
            .events
            .values()
            .filter(|e| e.kind == "DynamoDB")
            .collect();
        assert_eq!(streams.len(), 1);
        let filters = &streams[0].properties.filter_criteria.filters;
        assert_eq!(filters.len(), 1);
        let pattern: Value = serde_json::from_str(&filters[0].pattern).unwrap();
        let mut image = serde_json::Map::new();
        image.insert(keys::KIND.into(), json!({"S": [kind::MESSAGE]}));
        image.insert(
            keys::STATUS.into(),
            json!({"S": [MessageStatus::Queued.as_str()]}),
        );
        assert_eq!(
            pattern,
            json!({"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": image}})
        );
    }
}
