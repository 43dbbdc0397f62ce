//! What `aws-sessionstore-dynamodb migrate` needs of DynamoDB: whole items
//! a scan page at a time, and an in-place rewrite of some attributes on
//! condition that the ones it replaces still hold what was read (an item
//! changed meanwhile is skipped, never clobbered). Which items to rewrite
//! and how is decided in Ruby (`migration.rb`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::ops::item::{Item, ItemKey};
use crate::ops::update::{refusal, Update};

/// One scan page of whole items, and where the next one starts.
pub async fn scan_page(
    client: &Client,
    table: &str,
    start_key: Option<HashMap<String, AttributeValue>>,
    limit: i32,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let page = client
        .scan()
        .table_name(table)
        .set_exclusive_start_key(start_key)
        .limit(limit.max(1))
        .consistent_read(true)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    let next = page.last_evaluated_key.filter(|key| !key.is_empty());
    Ok((page.items.unwrap_or_default(), next))
}

/// Sets `set` on the item if every `expected` attribute still holds its
/// value (type included). `false`: the item changed or is gone.
pub async fn rewrite(
    client: &Client,
    key: &ItemKey,
    expected: Vec<(String, AttributeValue)>,
    set: Vec<(String, AttributeValue)>,
) -> Result<bool, StoreError> {
    if set.is_empty() {
        return Ok(true);
    }
    let mut update = Update::new();
    for (i, (name, value)) in set.into_iter().enumerate() {
        update.set(&format!("s{i}"), &name, value);
    }
    update
        .name("k", &key.key_name)
        .require("attribute_exists(#k)");
    for (i, (name, value)) in expected.into_iter().enumerate() {
        update.require_equal(&format!("e{i}"), &name, value);
    }
    let result = update.request(client, key).send().await;
    match result {
        Ok(_) => Ok(true),
        Err(err) if refusal(&err).is_conditional() => Ok(false),
        Err(err) => Err(StoreError::from_sdk(err)),
    }
}
