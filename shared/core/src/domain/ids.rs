use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts 1–128 printable characters without `#` (the store's key separator).
            pub fn parse(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                if value.is_empty() || value.len() > 128 {
                    return Err(Error::invalid($field, "must be 1 to 128 characters"));
                }
                if value.chars().any(|c| c == '#' || c.is_control()) {
                    return Err(Error::invalid(
                        $field,
                        format!("{value:?} must not contain '#' or control characters"),
                    ));
                }
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(/// A business using nudge (one brand, one rulebook).
    TenantId, "tenant");
id_type!(/// The tenant's own identifier of a customer.
    CustomerId, "customer_id");
id_type!(/// Identifier of a rule in a rulebook.
    RuleId, "rule");
id_type!(/// Caller-chosen event identifier; makes ingestion idempotent.
    EventId, "event_id");
id_type!(/// Identifier of one outbound message.
    MessageId, "message_id");
