//! Reading, writing and deleting one session item through the SDK client.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update as TransactUpdate,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::{StoreError, ITEM_SIZE_LIMIT};
use crate::ops::item::{Item, ItemKey};
use crate::ops::schema::{user_record_key as record_key, USER_ENTRY_PREFIX as ENTRY_PREFIX};
use crate::ops::schema::{CREATED_AT, DATA, EXPIRE_AT, LOCKED_AT, UPDATED_AT, USER_AGENT, USER_ID};
use crate::ops::stats::send_counted;
use crate::ops::time::{now_seconds, now_string};
use crate::ops::update::{refusal, Refusal, Update};

/// What must hold for a save to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The item must not exist (a new session id).
    New,
    /// The item must still exist (a session read earlier): a session
    /// destroyed meanwhile never comes back.
    Existing,
}

/// What a save does to the session's user (`user_key`): most saves keep
/// it; a sign-in sets it (after `users::track`), a sign-out removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    Keep,
    Set(String),
    Remove,
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
    /// The session's `user_id`.
    pub user: UserChange,
    /// The session's `user_agent`, set when given.
    pub user_agent: Option<String>,
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
    size += UPDATED_AT.len() + 20;
    if let Some(data) = &save.data {
        size += DATA.len() + data.len();
    }
    if let Some(created) = &save.created_at {
        size += CREATED_AT.len() + created.len();
    }
    if save.expire_at.is_some() {
        size += EXPIRE_AT.len() + 12;
    }
    if let UserChange::Set(user) = &save.user {
        size += USER_ID.len() + user.len();
    }
    if let Some(agent) = &save.user_agent {
        size += USER_AGENT.len() + agent.len();
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
    let mut update = Update::new();
    update.set("u", UPDATED_AT, updated_at.clone());
    if let Some(data) = save.data {
        update.set("d", DATA, AttributeValue::S(data));
    }
    if let Some(created) = save.created_at {
        update.set("c", CREATED_AT, AttributeValue::S(created));
    }
    match save.expire_at {
        Some(at) => update.set("e", EXPIRE_AT, AttributeValue::N(at.to_string())),
        None => update.remove("e", EXPIRE_AT),
    };
    match save.user {
        UserChange::Keep => &mut update,
        UserChange::Set(user) => update.set("i", USER_ID, AttributeValue::S(user)),
        UserChange::Remove => update.remove("i", USER_ID),
    };
    if let Some(agent) = save.user_agent {
        update.set("a", USER_AGENT, AttributeValue::S(agent));
    }
    update
        .name("k", &save.key.key_name)
        .require(match save.condition {
            Condition::New => "attribute_not_exists(#k)",
            Condition::Existing => "attribute_exists(#k)",
        });
    let locked = save.lock.is_some();
    if let Some(lock) = save.lock {
        update
            .require_equal("l", LOCKED_AT, AttributeValue::S(lock))
            .remove("l", LOCKED_AT);
    }
    let mut request = update.request(client, &save.key);
    if locked || ours.is_some() {
        // To tell "our lock was taken" from "the item is gone", and a new
        // item our own lost first attempt wrote from someone else's.
        request = request
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    match send_counted!(request, &save.key.stats) {
        Ok(_) => Ok(Saved::Written),
        Err(err) => match refusal(&err) {
            // Our own write, landed by an attempt whose answer was lost:
            // the SDK's retry then finds our lock already released.
            Refusal::RefusedWith(old) if locked && old.get(UPDATED_AT) == Some(&updated_at) => {
                Ok(Saved::Written)
            }
            // The item exists but holds another lock value.
            Refusal::RefusedWith(_) if locked => Ok(Saved::LockLost),
            // A retry after a first attempt whose answer was lost: it is
            // ours (created_at has microseconds, and the data is the same).
            Refusal::RefusedWith(old)
                if ours.as_ref().is_some_and(|(data, created)| {
                    old.get(DATA) == Some(data) && old.get(CREATED_AT) == Some(created)
                }) =>
            {
                Ok(Saved::Written)
            }
            Refusal::RefusedWith(_) | Refusal::Refused => Ok(Saved::ConditionFailed),
            Refusal::NotConditional => Err(too_large_or(StoreError::from_sdk(err), size)),
        },
    }
}

/// A session found under an older form of its key (the cookie's clear
/// value, or an earlier hashed scheme), moved to its current key.
#[derive(Debug, Clone)]
pub struct Move {
    /// Where the session is written (an item that must not exist yet).
    pub to: ItemKey,
    /// Where it was found (the item deleted in the same transaction).
    pub from_key: String,
    pub data: String,
    pub created_at: String,
    pub expire_at: Option<i64>,
    /// `updated_at` as this request read it, with its type: the move
    /// requires the old item unchanged since.
    pub read_updated_at: AttributeValue,
    /// Our `locked_at` on the old item: the move requires it still ours.
    pub lock: Option<String>,
    /// The session's `user_id`, carried over; the new key is added to that
    /// user's record in the same transaction.
    pub user: Option<String>,
    /// The session's `user_agent`, carried over.
    pub user_agent: Option<String>,
}

/// The outcome of a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Written under the new key and deleted under the old one, at once.
    Moved,
    /// The old item is gone (deleted, or moved by another request).
    SourceGone,
    /// The old item changed since it was read, or the new key is taken:
    /// nothing was written.
    Refused,
    /// Our lock on the old item was taken over: nothing was written.
    LockLost,
}

/// One `TransactWriteItems`: put the session under its new key if that is
/// free, and delete the old item on condition that it is as this request
/// read it (and, with a lock, still locked by us); with a user, the new key
/// added to the user's record too. All happen or none: a session logged
/// out meanwhile can't come back under the new key, a reader never finds
/// it under neither, and a revoke never misses it under the new one. The SDK fills in the
/// idempotency token, so a retry of an attempt whose answer was lost is
/// answered as that attempt was.
pub async fn move_to(client: &Client, mv: Move) -> Result<Moved, StoreError> {
    let to = &mv.to;
    let size = to.key_name.len()
        + to.key.len()
        + DATA.len()
        + mv.data.len()
        + mv.user.as_ref().map_or(0, |u| USER_ID.len() + u.len())
        + mv.user_agent
            .as_ref()
            .map_or(0, |a| USER_AGENT.len() + a.len())
        + 80;
    if size > ITEM_SIZE_LIMIT {
        return Err(StoreError::TooLarge {
            size,
            limit: ITEM_SIZE_LIMIT,
        });
    }
    let mut put = Put::builder()
        .table_name(&to.table)
        .item(&to.key_name, to.key_value())
        .item(DATA, AttributeValue::S(mv.data))
        .item(CREATED_AT, AttributeValue::S(mv.created_at))
        .item(UPDATED_AT, AttributeValue::S(now_string()))
        .condition_expression("attribute_not_exists(#k)")
        .expression_attribute_names("#k", &to.key_name);
    if let Some(at) = mv.expire_at {
        put = put.item(EXPIRE_AT, AttributeValue::N(at.to_string()));
    }
    if let Some(user) = &mv.user {
        put = put.item(USER_ID, AttributeValue::S(user.clone()));
    }
    if let Some(agent) = mv.user_agent {
        put = put.item(USER_AGENT, AttributeValue::S(agent));
    }
    let mut condition = "attribute_exists(#k) AND #u = :u".to_string();
    let mut delete = Delete::builder()
        .table_name(&to.table)
        .key(&to.key_name, AttributeValue::S(mv.from_key))
        .expression_attribute_names("#k", &to.key_name)
        .expression_attribute_names("#u", UPDATED_AT)
        .expression_attribute_values(":u", mv.read_updated_at)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    if let Some(lock) = &mv.lock {
        condition.push_str(" AND #l = :l");
        delete = delete
            .expression_attribute_names("#l", LOCKED_AT)
            .expression_attribute_values(":l", AttributeValue::S(lock.clone()));
    }
    let built = |e: aws_smithy_types::error::operation::BuildError| {
        StoreError::Internal(format!("move: {e}"))
    };
    let mut request = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(put.build().map_err(built)?)
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    delete
                        .condition_expression(condition)
                        .build()
                        .map_err(built)?,
                )
                .build(),
        );
    if let Some(user) = &mv.user {
        let track = TransactUpdate::builder()
            .table_name(&to.table)
            .key(&to.key_name, AttributeValue::S(record_key(user)))
            .update_expression("SET #e = :e")
            .expression_attribute_names("#e", format!("{ENTRY_PREFIX}{}", to.key))
            .expression_attribute_values(":e", AttributeValue::N(now_seconds().to_string()))
            .build()
            .map_err(built)?;
        request = request.transact_items(TransactWriteItem::builder().update(track).build());
    }
    let sent = send_counted!(request, &to.stats);
    match sent {
        Ok(_) => Ok(Moved::Moved),
        Err(err) => match cancellation(&err) {
            Some([_, old, ..]) if is_condition_failure(old) => Ok(match &old.item {
                None => Moved::SourceGone,
                Some(item) => match &mv.lock {
                    Some(lock) if item.get(LOCKED_AT) != Some(&AttributeValue::S(lock.clone())) => {
                        Moved::LockLost
                    }
                    _ => Moved::Refused,
                },
            }),
            // The new key is taken, or another transaction was on one of
            // the items at the same moment: nothing was written.
            Some(_) => Ok(Moved::Refused),
            None => Err(too_large_or(StoreError::from_sdk(err), size)),
        },
    }
}

/// The per-item reasons of a cancelled move (`[put, delete]`), or None for
/// any other error.
fn cancellation(
    err: &SdkError<TransactWriteItemsError, HttpResponse>,
) -> Option<&[CancellationReason]> {
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => {
                Some(e.cancellation_reasons())
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_condition_failure(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

/// Deletes the item at `key`; whether there was one. The delete is
/// conditioned on the item's existence, so DynamoDB says which (a refusal
/// costs what the delete would, and carries no item back).
pub async fn delete(client: &Client, key: &ItemKey) -> Result<bool, StoreError> {
    let request = client
        .delete_item()
        .table_name(&key.table)
        .key(&key.key_name, key.key_value())
        .condition_expression("attribute_exists(#k)")
        .expression_attribute_names("#k", &key.key_name);
    match send_counted!(request, &key.stats) {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(service))
            if matches!(
                service.err(),
                DeleteItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            Ok(false)
        }
        Err(err) => Err(StoreError::from_sdk(err)),
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
