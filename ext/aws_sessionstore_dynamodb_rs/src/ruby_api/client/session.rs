//! `Native::Client`'s item calls: get, save, move to a new key, delete,
//! and the pessimistic lock's acquire and release.

use magnus::{method, prelude::*, r_struct::RStruct, Error, IntoValue, RClass, Ruby, Value};

use super::request::{item_key, member, millis, typed};
use super::results::with_stats;
use super::Client;
use crate::error::StoreError;
use crate::ops::lock::{self, LockTiming, Locked};
use crate::ops::session::{self, Condition, Move, Moved, Save, Saved};
use crate::ruby_api::item;

impl Client {
    /// `get_item(Native::ItemRequest)` → Hash of attributes, or nil.
    pub(super) fn get_item(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let consistent: bool = member(request, "consistent")?;
        let (found, stats) =
            rb_self.on_key(ruby, item_key(request)?, |client, key| async move {
                session::get(&client, &key, consistent).await
            })?;
        let found = found.map(|item| item::to_ruby(ruby, item)).transpose()?;
        with_stats(ruby, found.into_value_with(ruby), &stats)
    }

    /// `save_session(Native::SaveRequest)` → true when written, false when
    /// the condition refused it (a new id that exists, or an existing
    /// session that was deleted meanwhile).
    pub(super) fn save_session(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<Value, Error> {
        let new_session: bool = member(request, "new_session")?;
        let save = Save {
            key: item_key(request)?,
            data: member(request, "data")?,
            created_at: member(request, "created_at")?,
            expire_at: member(request, "expire_at")?,
            condition: if new_session {
                Condition::New
            } else {
                Condition::Existing
            },
            lock: member(request, "lock")?,
        };
        let stats = save.key.stats.clone();
        let saved = rb_self.run(
            ruby,
            |client| async move { session::save(&client, save).await },
        )?;
        let written = match saved {
            Saved::Written => true,
            Saved::ConditionFailed => false,
            Saved::LockLost => return Err(StoreError::LockLost.into_ruby(ruby)),
        };
        with_stats(ruby, written.into_value_with(ruby), &stats)
    }

    /// `move_session(Native::MoveRequest)` → `:moved`, `:source_gone` (the
    /// old item is gone) or `:refused` (it changed since it was read, or
    /// the new key is taken); nothing is written unless `:moved`. Raises
    /// `LockLostError` when our lock on the old item was taken over.
    pub(super) fn move_session(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<Value, Error> {
        let read_updated_at = typed(ruby, request, "read_updated_at")?;
        let mv = Move {
            to: item_key(request)?,
            from_key: member(request, "from_key")?,
            data: member(request, "data")?,
            created_at: member(request, "created_at")?,
            expire_at: member(request, "expire_at")?,
            read_updated_at,
            lock: member(request, "lock")?,
        };
        let stats = mv.to.stats.clone();
        let moved = rb_self.run(
            ruby,
            |client| async move { session::move_to(&client, mv).await },
        )?;
        let outcome = match moved {
            Moved::Moved => "moved",
            Moved::SourceGone => "source_gone",
            Moved::Refused => "refused",
            Moved::LockLost => return Err(StoreError::LockLost.into_ruby(ruby)),
        };
        with_stats(ruby, ruby.to_symbol(outcome).as_value(), &stats)
    }

    /// `lock_session(Native::LockRequest)` → `[item, lock, takeover]`
    /// (takeover: nil, or why the lock was taken from another holder:
    /// `:expired`, `:future`, `:unreadable`), or nil when there is no such
    /// item. Raises `LockWaitTimeoutError` after
    /// `max_wait_ms`.
    pub(super) fn lock_session(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<Value, Error> {
        let consistent: bool = member(request, "consistent")?;
        let timing = LockTiming {
            expiry: millis(request, "expiry_ms")?,
            retry_delay: millis(request, "retry_delay_ms")?,
            max_wait: millis(request, "max_wait_ms")?,
        };
        let (locked, stats) =
            rb_self.on_key(ruby, item_key(request)?, |client, key| async move {
                lock::acquire(&client, &key, consistent, timing).await
            })?;
        let value = match locked {
            Locked::Acquired {
                item,
                lock,
                takeover,
            } => (
                item::to_ruby(ruby, item)?,
                lock,
                takeover.map(|why| ruby.to_symbol(why.name())),
            )
                .into_value_with(ruby),
            Locked::Missing => ruby.qnil().as_value(),
        };
        with_stats(ruby, value, &stats)
    }

    /// `release_lock(Native::LockedItem)` → true if it was still ours.
    pub(super) fn release_lock(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<Value, Error> {
        let lock: String = member(request, "lock")?;
        let (released, stats) =
            rb_self.on_key(ruby, item_key(request)?, |client, key| async move {
                lock::release(&client, &key, lock).await
            })?;
        with_stats(ruby, released.into_value_with(ruby), &stats)
    }

    /// `delete_item(Native::ItemRequest)`.
    pub(super) fn delete_item(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<Value, Error> {
        let ((), stats) = rb_self.on_key(ruby, item_key(request)?, |client, key| async move {
            session::delete(&client, &key).await
        })?;
        with_stats(ruby, ruby.qnil().as_value(), &stats)
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("get_item", method!(Client::get_item, 1))?;
    class.define_method("save_session", method!(Client::save_session, 1))?;
    class.define_method("move_session", method!(Client::move_session, 1))?;
    class.define_method("delete_item", method!(Client::delete_item, 1))?;
    class.define_method("lock_session", method!(Client::lock_session, 1))?;
    class.define_method("release_lock", method!(Client::release_lock, 1))?;
    Ok(())
}
