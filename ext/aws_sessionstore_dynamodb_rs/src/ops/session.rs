//! Reading, writing and deleting one session item.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;

use crate::error::{StoreError, ITEM_SIZE_LIMIT};
use crate::item::Item;
use crate::ops::time::now_string;

/// Where an item lives: table, hash key attribute name and its value.
#[derive(Debug, Clone)]
pub struct ItemKey {
    pub table: String,
    pub key_name: String,
    pub key: String,
}

impl ItemKey {
    fn key_value(&self) -> AttributeValue {
        AttributeValue::S(self.key.clone())
    }
}

/// What must hold for a save to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The item must not exist (a new session id).
    New,
    /// The item must still exist (a session read earlier): a session
    /// destroyed meanwhile never comes back.
    Existing,
}

/// One save of a session: an UpdateItem that touches `updated_at` and only
/// what else changed.
#[derive(Debug, Clone)]
pub struct Save {
    pub key: ItemKey,
    /// The serialized session, when it changed (or is new).
    pub data: Option<String>,
    /// Set on new sessions (and carried over on renew).
    pub created_at: Option<String>,
    /// Seconds since the epoch; `None` removes the attribute so a TTL can
    /// never delete a live session.
    pub expire_at: Option<i64>,
    pub condition: Condition,
    /// Our `locked_at` value: the save then requires it and removes it.
    pub lock: Option<String>,
}

/// The outcome of a save the condition refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// `Condition::New` but the item exists, or `Existing` but it is gone.
    ConditionFailed,
    /// Saved with our lock, but the lock is no longer ours: not written.
    LockLost,
}

pub async fn get(
    client: &Client,
    key: &ItemKey,
    consistent: bool,
) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(&key.table)
        .key(&key.key_name, key.key_value())
        .consistent_read(consistent)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(out.item)
}

/// Bytes the saved item will at least take; the rest of an existing item is
/// small (timestamps), so this is what can push it over the limit.
pub fn save_size(save: &Save) -> usize {
    let mut size = save.key.key_name.len() + save.key.key.len();
    size += "updated_at".len() + 20;
    if let Some(data) = &save.data {
        size += "data".len() + data.len();
    }
    if let Some(created) = &save.created_at {
        size += "created_at".len() + created.len();
    }
    if save.expire_at.is_some() {
        size += "expire_at".len() + 12;
    }
    size
}

pub async fn save(client: &Client, save: Save) -> Result<Saved, StoreError> {
    let size = save_size(&save);
    if size > ITEM_SIZE_LIMIT {
        return Err(StoreError::TooLarge {
            size,
            limit: ITEM_SIZE_LIMIT,
        });
    }
    let mut sets = vec!["#u = :u"];
    let mut removes = Vec::new();
    let mut request = client
        .update_item()
        .table_name(&save.key.table)
        .key(&save.key.key_name, save.key.key_value())
        .expression_attribute_names("#k", &save.key.key_name)
        .expression_attribute_names("#u", "updated_at")
        .expression_attribute_values(":u", AttributeValue::S(now_string()))
        .return_values(ReturnValue::None);
    if let Some(data) = save.data {
        sets.push("#d = :d");
        request = request
            .expression_attribute_names("#d", "data")
            .expression_attribute_values(":d", AttributeValue::S(data));
    }
    if let Some(created) = save.created_at {
        sets.push("#c = :c");
        request = request
            .expression_attribute_names("#c", "created_at")
            .expression_attribute_values(":c", AttributeValue::S(created));
    }
    request = request.expression_attribute_names("#e", "expire_at");
    match save.expire_at {
        Some(at) => {
            sets.push("#e = :e");
            request = request.expression_attribute_values(":e", AttributeValue::N(at.to_string()));
        }
        None => removes.push("#e"),
    }
    let mut condition = match save.condition {
        Condition::New => "attribute_not_exists(#k)".to_string(),
        Condition::Existing => "attribute_exists(#k)".to_string(),
    };
    let locked = save.lock.is_some();
    if let Some(lock) = save.lock {
        removes.push("#l");
        request = request.return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        );
        condition.push_str(" AND #l = :l");
        request = request
            .expression_attribute_names("#l", "locked_at")
            .expression_attribute_values(":l", AttributeValue::S(lock));
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    let result = request
        .update_expression(expression)
        .condition_expression(condition)
        .send()
        .await;
    match result {
        Ok(_) => Ok(Saved::Written),
        Err(err) => match crate::ops::lock::refused_item(&err) {
            // The item exists but holds another lock value.
            Some(Some(_)) if locked => Ok(Saved::LockLost),
            Some(_) => Ok(Saved::ConditionFailed),
            None => Err(too_large_or(StoreError::from_sdk(err), size)),
        },
    }
}

pub async fn delete(client: &Client, key: &ItemKey) -> Result<(), StoreError> {
    client
        .delete_item()
        .table_name(&key.table)
        .key(&key.key_name, key.key_value())
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(())
}

/// DynamoDB's own refusal of an oversized item, said the same way as ours.
fn too_large_or(err: StoreError, size: usize) -> StoreError {
    match &err {
        StoreError::Service { code, message, .. }
            if code == "ValidationException" && message.contains("maximum allowed size") =>
        {
            StoreError::TooLarge {
                size,
                limit: ITEM_SIZE_LIMIT,
            }
        }
        _ => err,
    }
}
