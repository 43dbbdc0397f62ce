//! One user's sessions (the `user_key` option): the user record, an item
//! in the session table that names the storage key of every session the
//! user signed in to, and the calls that list and revoke them.
//!
//! The record is the exact list a revoke works from: a session's key is
//! added to it (`track`) before the save that gives the session its user
//! is sent, and a strongly consistent read gives it back, so no session of
//! the user can be missed the way an eventually consistent index can miss
//! one. An entry is `s:<storage key>` = the second it was added (N); an
//! entry outlives its session (a logout deletes only the session) and is
//! removed by `untrack` once its session is seen gone or another user's,
//! on condition that it was not added again meanwhile.
//!
//! The user index (`USER_INDEX`, a KEYS_ONLY global secondary index on
//! `user_id`) is a second source, read with `indexed`: eventually
//! consistent, so never the only one; it finds sessions the record lacks
//! (a record deleted or restored apart from its sessions).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::ops::item::{Item, ItemKey};
use crate::ops::schema::{CREATED_AT, UPDATED_AT, USER_AGENT, USER_ID, USER_INDEX};
use crate::ops::session;
use crate::ops::stats::send_counted;
use crate::ops::update::{refusal, Update};

pub use crate::ops::schema::{
    USER_ENTRY_PREFIX as ENTRY_PREFIX, USER_RECORD_PREFIX as RECORD_PREFIX,
};
/// Most keys one BatchGetItem reads.
const BATCH_GET_MAX: usize = 100;
/// Rounds of BatchGetItem for the keys DynamoDB left unprocessed.
const UNPROCESSED_ROUNDS: u32 = 8;
/// Most pages of one user index query (1 MB each, ~10,000 keys).
const INDEX_PAGES_MAX: usize = 64;

pub use crate::ops::schema::user_record_key as record_key;

/// Adds `storage_key` to the user record (creating it), dated `now`:
/// one UpdateItem.
pub async fn track(
    client: &Client,
    record: &ItemKey,
    storage_key: &str,
    now: i64,
) -> Result<(), StoreError> {
    let entry = format!("{ENTRY_PREFIX}{storage_key}");
    let request = Update::new()
        .set("e", &entry, AttributeValue::N(now.to_string()))
        .request(client, record);
    send_counted!(request, &record.stats).map_err(StoreError::from_sdk)?;
    Ok(())
}

/// Removes `storage_key` from the user record, on condition that its entry
/// is still dated `added_at` (not added again since it was read). Answers
/// whether it was removed.
pub async fn untrack(
    client: &Client,
    record: &ItemKey,
    storage_key: &str,
    added_at: i64,
) -> Result<bool, StoreError> {
    let entry = format!("{ENTRY_PREFIX}{storage_key}");
    let request = Update::new()
        .remove("e", &entry)
        .require_equal("e", &entry, AttributeValue::N(added_at.to_string()))
        .request(client, record);
    match send_counted!(request, &record.stats) {
        Ok(_) => Ok(true),
        Err(err) if refusal(&err).is_conditional() => Ok(false),
        Err(err) => Err(StoreError::from_sdk(err)),
    }
}

/// The user record's entries, read strongly consistent: storage key and
/// the second it was added, oldest first. Empty when there is no record.
pub async fn entries(client: &Client, record: &ItemKey) -> Result<Vec<(String, i64)>, StoreError> {
    let mut found: Vec<(String, i64)> = session::get(client, record, true)
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix(ENTRY_PREFIX)?.to_string();
            let added = match value {
                AttributeValue::N(n) => n.parse().ok()?,
                _ => return None,
            };
            Some((key, added))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(found)
}

/// The storage keys of the sessions the user index holds for `user` (a
/// Query of `USER_INDEX`, eventually consistent, every page). A table
/// without the index, or with one still being built, answers DynamoDB's
/// `ValidationException`, which is returned as it came.
pub async fn indexed(
    client: &Client,
    table: &ItemKey,
    user: &str,
) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    let mut start = None;
    for _ in 0..INDEX_PAGES_MAX {
        let request = client
            .query()
            .table_name(&table.table)
            .index_name(USER_INDEX)
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", USER_ID)
            .expression_attribute_values(":u", AttributeValue::S(user.to_string()))
            .set_exclusive_start_key(start.take());
        let out = send_counted!(request, &table.stats).map_err(StoreError::from_sdk)?;
        keys.extend(
            out.items
                .unwrap_or_default()
                .into_iter()
                .filter_map(|mut item| match item.remove(&table.key_name) {
                    Some(AttributeValue::S(key)) if !key.starts_with(RECORD_PREFIX) => Some(key),
                    _ => None,
                }),
        );
        match out.last_evaluated_key {
            Some(next) if !next.is_empty() => start = Some(next),
            _ => return Ok(keys),
        }
    }
    Err(StoreError::Internal(format!(
        "list: the user index query went on past {INDEX_PAGES_MAX} pages"
    )))
}

/// The outcome of revoking one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The session was the user's, and is deleted.
    Deleted,
    /// No such session (logged out, expired, moved).
    Gone,
    /// The session is another user's now, or no user's: kept.
    NotTheirs,
}

/// Deletes the session at `session` on condition that it still belongs to
/// `user` (its `user_id`): a session that changed hands since it was
/// tracked is never deleted for the wrong user.
pub async fn revoke(client: &Client, session: &ItemKey, user: &str) -> Result<Revoked, StoreError> {
    let request = client
        .delete_item()
        .table_name(&session.table)
        .key(&session.key_name, session.key_value())
        .condition_expression("#u = :u")
        .expression_attribute_names("#u", USER_ID)
        .expression_attribute_values(":u", AttributeValue::S(user.to_string()))
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        );
    match send_counted!(request, &session.stats) {
        Ok(_) => Ok(Revoked::Deleted),
        Err(SdkError::ServiceError(service)) => match service.err() {
            DeleteItemError::ConditionalCheckFailedException(e) => Ok(match e.item {
                Some(_) => Revoked::NotTheirs,
                None => Revoked::Gone,
            }),
            _ => Err(StoreError::from_sdk(SdkError::ServiceError(service))),
        },
        Err(err) => Err(StoreError::from_sdk(err)),
    }
}

/// What a list shows of each session: its key, `created_at`,
/// `updated_at`, `user_id` and `user_agent`, read strongly consistent with
/// BatchGetItem (100 keys a call; the keys DynamoDB leaves unprocessed are
/// asked again, a few rounds with a short pause). Sessions that no longer
/// exist are not in the answer.
pub async fn summaries(
    client: &Client,
    table: &ItemKey,
    keys: &[String],
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH_GET_MAX) {
        let mut pending = Some(summary_keys(table, chunk)?);
        let mut round = 0;
        while let Some(wanted) = pending.take() {
            let request = client.batch_get_item().request_items(&table.table, wanted);
            let out = send_counted!(request, &table.stats).map_err(StoreError::from_sdk)?;
            if let Some(mut items) = out.responses {
                found.extend(items.remove(&table.table).unwrap_or_default());
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut left| left.remove(&table.table))
                .filter(|left| !left.keys().is_empty());
            if pending.is_some() {
                round += 1;
                if round >= UNPROCESSED_ROUNDS {
                    return Err(StoreError::Internal(
                        "list: DynamoDB left keys unprocessed after several rounds".to_string(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(25 << round.min(5))).await;
            }
        }
    }
    Ok(found)
}

fn summary_keys(table: &ItemKey, chunk: &[String]) -> Result<KeysAndAttributes, StoreError> {
    let mut builder = KeysAndAttributes::builder()
        .consistent_read(true)
        .projection_expression("#k, #c, #u, #i, #a")
        .expression_attribute_names("#k", &table.key_name)
        .expression_attribute_names("#c", CREATED_AT)
        .expression_attribute_names("#u", UPDATED_AT)
        .expression_attribute_names("#i", USER_ID)
        .expression_attribute_names("#a", USER_AGENT);
    for key in chunk {
        builder = builder.keys(HashMap::from([(
            table.key_name.clone(),
            AttributeValue::S(key.clone()),
        )]));
    }
    builder
        .build()
        .map_err(|e| StoreError::Internal(format!("list: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_start_with_the_prefix_no_session_key_has() {
        assert_eq!(record_key("abc"), "user#abc");
        assert!(!"0123456789abcdef".starts_with(RECORD_PREFIX));
    }
}
