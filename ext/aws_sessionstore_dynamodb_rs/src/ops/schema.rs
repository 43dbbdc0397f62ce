//! The session item's attribute names, as every version of the gem (and the
//! official one) writes them. The hash key's name is not here: it is an
//! option (`table_key`, `ItemKey::key_name`).

/// The serialized session.
pub const DATA: &str = "data";
/// When the session was created (seconds, S since v3, N before).
pub const CREATED_AT: &str = "created_at";
/// When the session was last written (seconds, S since v3, N before).
pub const UPDATED_AT: &str = "updated_at";
/// Seconds since the epoch, the TTL attribute `create_table` turns on.
pub const EXPIRE_AT: &str = "expire_at";
/// The pessimistic lock's value (a timestamp string, N in v0.5).
pub const LOCKED_AT: &str = "locked_at";
/// The user a session belongs to (the `user_key` option): the user's id,
/// or with `hashed_keys` its keyed hash. Also names the user record.
pub const USER_ID: &str = "user_id";
/// The global secondary index on `USER_ID` (KEYS_ONLY) that `create_table`
/// makes with `user_key` and `add_user_index` adds: a second way to find a
/// user's sessions, beside the user record.
pub const USER_INDEX: &str = "user_id-index";
/// The session's device, when the app keeps it: a truncated User-Agent.
pub const USER_AGENT: &str = "user_agent";
/// What starts a user record's key (`ops::users`); no session key does
/// (the store's ids are hex, and a cookie must be signed to be read).
pub const USER_RECORD_PREFIX: &str = "user#";
/// What starts an entry's attribute name in a user record.
pub const USER_ENTRY_PREFIX: &str = "s:";

/// The user record's key for a user (the `user_id` attribute's value).
pub fn user_record_key(user: &str) -> String {
    format!("{USER_RECORD_PREFIX}{user}")
}
