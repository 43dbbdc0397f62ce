//! Reading, writing and deleting one session item through the SDK client.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use std::sync::Arc;

use crate::error::{StoreError, ITEM_SIZE_LIMIT};
use crate::ops::item::Item;
use crate::ops::stats::CallStats;
use crate::ops::time::now_string;
use crate::send_counted;

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

/// The outcome of a save.
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
    let request = client
        .get_item()
        .table_name(&key.table)
        .key(&key.key_name, key.key_value())
        .consistent_read(consistent);
    let out = send_counted!(request, &key.stats).map_err(StoreError::from_sdk)?;
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
    // What a retried new save finds if its first attempt landed unseen
    // (the SDK retries a call whose answer was lost).
    let ours = match (save.condition, &save.data, &save.created_at) {
        (Condition::New, Some(data), Some(created)) => Some((
            AttributeValue::S(data.clone()),
            AttributeValue::S(created.clone()),
        )),
        _ => None,
    };
    // Unique enough (microseconds) to recognise this very write if a retry
    // finds that an earlier attempt of it landed.
    let updated_at = AttributeValue::S(now_string());
    let mut sets = vec!["#u = :u"];
    let mut removes = Vec::new();
    let mut request = client
        .update_item()
        .table_name(&save.key.table)
        .key(&save.key.key_name, save.key.key_value())
        .expression_attribute_names("#k", &save.key.key_name)
        .expression_attribute_names("#u", "updated_at")
        .expression_attribute_names("#e", "expire_at")
        .expression_attribute_values(":u", updated_at.clone());
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
        condition.push_str(" AND #l = :l");
        request = request
            .expression_attribute_names("#l", "locked_at")
            .expression_attribute_values(":l", AttributeValue::S(lock));
    }
    if locked || ours.is_some() {
        // To tell "our lock was taken" from "the item is gone", and a new
        // item our own lost first attempt wrote from someone else's.
        request = request
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(" REMOVE ");
        expression.push_str(&removes.join(", "));
    }
    let request = request
        .update_expression(expression)
        .condition_expression(condition);
    match send_counted!(request, &save.key.stats) {
        Ok(_) => Ok(Saved::Written),
        Err(err) => match refused_item(&err) {
            // Our own write, landed by an attempt whose answer was lost:
            // the SDK's retry then finds our lock already released.
            Some(Some(old)) if locked && old.get("updated_at") == Some(&updated_at) => {
                Ok(Saved::Written)
            }
            // The item exists but holds another lock value.
            Some(Some(_)) if locked => Ok(Saved::LockLost),
            // A retry after a first attempt whose answer was lost: it is
            // ours (created_at has microseconds, and the data is the same).
            Some(Some(old))
                if ours.as_ref().is_some_and(|(data, created)| {
                    old.get("data") == Some(data) && old.get("created_at") == Some(created)
                }) =>
            {
                Ok(Saved::Written)
            }
            Some(_) => Ok(Saved::ConditionFailed),
            None => Err(too_large_or(StoreError::from_sdk(err), size)),
        },
    }
}

pub async fn delete(client: &Client, key: &ItemKey) -> Result<(), StoreError> {
    let request = client
        .delete_item()
        .table_name(&key.table)
        .key(&key.key_name, key.key_value());
    send_counted!(request, &key.stats).map_err(StoreError::from_sdk)?;
    Ok(())
}

/// For a failed condition: `Some(the old item, when DynamoDB returned it)`;
/// `None` for every other error.
pub fn refused_item(err: &SdkError<UpdateItemError, HttpResponse>) -> Option<Option<Item>> {
    match err {
        SdkError::ServiceError(service) => match service.err() {
            UpdateItemError::ConditionalCheckFailedException(e) => Some(e.item.clone()),
            _ => None,
        },
        _ => None,
    }
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
