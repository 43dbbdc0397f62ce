//! A DynamoDB item as the SDK returns it, and where one lives.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::ops::stats::CallStats;

pub type Item = HashMap<String, AttributeValue>;

/// Where an item lives: table, hash key attribute name and its value; and
/// where to count the call's cost, when someone listens.
#[derive(Debug, Clone)]
pub struct ItemKey {
    pub table: String,
    pub key_name: String,
    pub key: String,
    pub stats: Option<Arc<CallStats>>,
}

impl ItemKey {
    pub fn key_value(&self) -> AttributeValue {
        AttributeValue::S(self.key.clone())
    }
}
