//! `Native::Client`'s calls for one user's sessions (the `user_key`
//! option): the user record's entries, and the list and revoke built on
//! them (`UserSessions` in Ruby).

use magnus::{method, prelude::*, Error, RClass, Ruby, Value};

use super::request::{SummaryRequest, UserEntry, UserRequest};
use super::Client;
use crate::ops::time::now_seconds;
use crate::ops::users;

impl Client {
    /// `track_user_session(Native::UserEntry)` → nil: the session's key
    /// added to the user's record, dated now.
    fn track_user_session(ruby: &Ruby, rb_self: &Self, entry: UserEntry) -> Result<Value, Error> {
        rb_self.call(ruby, entry, |c, r| async move {
            users::track(&c, &r.record, &r.session.key, now_seconds()).await
        })
    }

    /// `untrack_user_session(Native::UserEntry)` → true when the entry was
    /// removed, false when it was dated otherwise than `added_at` (added
    /// again since) or is gone.
    fn untrack_user_session(ruby: &Ruby, rb_self: &Self, entry: UserEntry) -> Result<Value, Error> {
        rb_self.call(ruby, entry, |c, r| async move {
            let added_at = r.added_at.unwrap_or_default();
            users::untrack(&c, &r.record, &r.session.key, added_at).await
        })
    }

    /// `user_session_keys(Native::UserRequest)` → `[[storage_key,
    /// added_at], ...]`, oldest first, read strongly consistent.
    fn user_session_keys(ruby: &Ruby, rb_self: &Self, user: UserRequest) -> Result<Value, Error> {
        rb_self.call(ruby, user, |c, r| async move {
            users::entries(&c, &r.record).await
        })
    }

    /// `user_index_keys(Native::UserRequest)` → the storage keys the user
    /// index holds for the user (eventually consistent); a table without
    /// the index raises `Errors::ValidationError`.
    fn user_index_keys(ruby: &Ruby, rb_self: &Self, user: UserRequest) -> Result<Value, Error> {
        rb_self.call(ruby, user, |c, r| async move {
            users::indexed(&c, &r.record, &r.user).await
        })
    }

    /// `revoke_user_session(Native::UserEntry)` → `:deleted`, `:gone` or
    /// `:not_theirs` (the session is another user's or no user's: kept).
    fn revoke_user_session(ruby: &Ruby, rb_self: &Self, entry: UserEntry) -> Result<Value, Error> {
        rb_self.call(ruby, entry, |c, r| async move {
            users::revoke(&c, &r.session, &r.user).await
        })
    }

    /// `session_summaries(Native::SummaryRequest)` → Array of Hashes (the
    /// key, `created_at`, `updated_at`, `user_id`, `user_agent` of each
    /// session that exists), read strongly consistent.
    fn session_summaries(
        ruby: &Ruby,
        rb_self: &Self,
        summary: SummaryRequest,
    ) -> Result<Value, Error> {
        rb_self.call(ruby, summary, |c, r| async move {
            users::summaries(&c, &r.table, &r.keys).await
        })
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("track_user_session", method!(Client::track_user_session, 1))?;
    class.define_method(
        "untrack_user_session",
        method!(Client::untrack_user_session, 1),
    )?;
    class.define_method("user_session_keys", method!(Client::user_session_keys, 1))?;
    class.define_method("user_index_keys", method!(Client::user_index_keys, 1))?;
    class.define_method(
        "revoke_user_session",
        method!(Client::revoke_user_session, 1),
    )?;
    class.define_method("session_summaries", method!(Client::session_summaries, 1))?;
    Ok(())
}
