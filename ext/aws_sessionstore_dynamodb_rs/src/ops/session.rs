//! Reading, writing and deleting one session item.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Map, Value};

use crate::error::{StoreError, ITEM_SIZE_LIMIT};
use crate::item::Item;
use crate::ops::interrupt::Interrupt;
use crate::ops::time::now_string;
use crate::ops::wire::{item_from_json, Answer, WireClient};

/// Where an item lives: table, hash key attribute name and its value.
#[derive(Debug, Clone)]
pub struct ItemKey {
    pub table: String,
    pub key_name: String,
    pub key: String,
}

impl ItemKey {
    /// `{"TableName": …, "Key": {key_name: {"S": key}}}`, the start of
    /// every request body.
    pub fn request(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("TableName".into(), json!(self.table));
        body.insert("Key".into(), json!({ &self.key_name: { "S": self.key } }));
        body
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

pub fn get(
    client: &WireClient,
    key: &ItemKey,
    consistent: bool,
    interrupt: &Interrupt,
) -> Result<Option<Item>, StoreError> {
    let mut body = key.request();
    body.insert("ConsistentRead".into(), json!(consistent));
    match client.call("GetItem", &Value::Object(body), interrupt)? {
        Answer::Ok(out) => Ok(out.get("Item").and_then(item_from_json)),
        Answer::ConditionFailed(_) => Err(StoreError::Internal("GetItem has no condition".into())),
    }
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

pub fn save(client: &WireClient, save: &Save, interrupt: &Interrupt) -> Result<Saved, StoreError> {
    let size = save_size(save);
    if size > ITEM_SIZE_LIMIT {
        return Err(StoreError::TooLarge {
            size,
            limit: ITEM_SIZE_LIMIT,
        });
    }
    let mut sets = vec!["#u = :u"];
    let mut removes = Vec::new();
    let mut names = Map::new();
    let mut values = Map::new();
    names.insert("#k".into(), json!(save.key.key_name));
    names.insert("#u".into(), json!("updated_at"));
    names.insert("#e".into(), json!("expire_at"));
    values.insert(":u".into(), json!({ "S": now_string() }));
    // What a retried new save finds if its first attempt landed unseen.
    let ours = match (save.condition, &save.data, &save.created_at) {
        (Condition::New, Some(data), Some(created)) => Some((
            AttributeValue::S(data.clone()),
            AttributeValue::S(created.clone()),
        )),
        _ => None,
    };
    if let Some(data) = &save.data {
        sets.push("#d = :d");
        names.insert("#d".into(), json!("data"));
        values.insert(":d".into(), json!({ "S": data }));
    }
    if let Some(created) = &save.created_at {
        sets.push("#c = :c");
        names.insert("#c".into(), json!("created_at"));
        values.insert(":c".into(), json!({ "S": created }));
    }
    match save.expire_at {
        Some(at) => {
            sets.push("#e = :e");
            values.insert(":e".into(), json!({ "N": at.to_string() }));
        }
        None => removes.push("#e"),
    }
    let mut condition = match save.condition {
        Condition::New => "attribute_not_exists(#k)".to_string(),
        Condition::Existing => "attribute_exists(#k)".to_string(),
    };
    let mut body = save.key.request();
    let locked = save.lock.is_some();
    if locked || ours.is_some() {
        // To tell "our lock was taken" from "the item is gone", and a new
        // item our own lost first attempt wrote from someone else's.
        body.insert(
            "ReturnValuesOnConditionCheckFailure".into(),
            json!("ALL_OLD"),
        );
    }
    if let Some(lock) = &save.lock {
        removes.push("#l");
        condition.push_str(" AND #l = :l");
        names.insert("#l".into(), json!("locked_at"));
        values.insert(":l".into(), json!({ "S": lock }));
        // To tell "our lock was taken" from "the item is gone".
        body.insert(
            "ReturnValuesOnConditionCheckFailure".into(),
            json!("ALL_OLD"),
        );
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    body.insert("UpdateExpression".into(), json!(expression));
    body.insert("ConditionExpression".into(), json!(condition));
    body.insert("ExpressionAttributeNames".into(), Value::Object(names));
    body.insert("ExpressionAttributeValues".into(), Value::Object(values));
    match client.call("UpdateItem", &Value::Object(body), interrupt) {
        Ok(Answer::Ok(_)) => Ok(Saved::Written),
        // The item exists but holds another lock value.
        Ok(Answer::ConditionFailed(Some(_))) if locked => Ok(Saved::LockLost),
        // A retry after a first attempt whose answer was lost: it is ours
        // (created_at has microseconds, and the data is the same).
        Ok(Answer::ConditionFailed(Some(old)))
            if ours.as_ref().is_some_and(|(data, created)| {
                old.get("data") == Some(data) && old.get("created_at") == Some(created)
            }) =>
        {
            Ok(Saved::Written)
        }
        Ok(Answer::ConditionFailed(_)) => Ok(Saved::ConditionFailed),
        Err(e) => Err(too_large_or(e, size)),
    }
}

pub fn delete(client: &WireClient, key: &ItemKey, interrupt: &Interrupt) -> Result<(), StoreError> {
    client.call("DeleteItem", &Value::Object(key.request()), interrupt)?;
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
