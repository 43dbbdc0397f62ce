//! `Native::Client`'s item calls: get, save, move to a new key, delete,
//! and the pessimistic lock's acquire and release.

use magnus::{method, prelude::*, Error, RClass, Ruby, Value};

use super::request::{ItemRequest, LockRequest, LockedItem};
use super::Client;
use crate::ops::item::ItemKey;
use crate::ops::lock;
use crate::ops::session::{self, Move, Save};

impl Client {
    /// `get_item(Native::ItemRequest)` → Hash of attributes, or nil.
    fn get_item(ruby: &Ruby, rb_self: &Self, get: ItemRequest) -> Result<Value, Error> {
        rb_self.call(ruby, get, |c, r| async move {
            session::get(&c, &r.key, r.consistent).await
        })
    }

    /// `save_session(Native::SaveRequest)` → true when written, false when
    /// the condition refused it (a new id that exists, or an existing
    /// session that was deleted meanwhile). Raises `LockLostError` when our
    /// lock was taken over.
    fn save_session(ruby: &Ruby, rb_self: &Self, save: Save) -> Result<Value, Error> {
        rb_self.call(ruby, save, |c, r| async move { session::save(&c, r).await })
    }

    /// `move_session(Native::MoveRequest)` → `:moved`, `:source_gone` (the
    /// old item is gone) or `:refused` (it changed since it was read, or
    /// the new key is taken); nothing is written unless `:moved`. Raises
    /// `LockLostError` when our lock on the old item was taken over.
    fn move_session(ruby: &Ruby, rb_self: &Self, mv: Move) -> Result<Value, Error> {
        rb_self.call(
            ruby,
            mv,
            |c, r| async move { session::move_to(&c, r).await },
        )
    }

    /// `lock_session(Native::LockRequest)` → `[item, lock, takeover]`
    /// (takeover: nil, or why the lock was taken from another holder:
    /// `:expired`, `:future`, `:unreadable`), or nil when there is no such
    /// item. Raises `LockWaitTimeoutError` after `max_wait_ms`.
    fn lock_session(ruby: &Ruby, rb_self: &Self, lock: LockRequest) -> Result<Value, Error> {
        rb_self.call(ruby, lock, |c, r| async move {
            lock::acquire(&c, &r.key, r.consistent, r.timing).await
        })
    }

    /// `release_lock(Native::LockedItem)` → true if it was still ours.
    fn release_lock(ruby: &Ruby, rb_self: &Self, locked: LockedItem) -> Result<Value, Error> {
        rb_self.call(ruby, locked, |c, r| async move {
            lock::release(&c, &r.key, r.lock).await
        })
    }

    /// `delete_item(Native::ItemRequest)` → whether there was an item.
    fn delete_item(ruby: &Ruby, rb_self: &Self, key: ItemKey) -> Result<Value, Error> {
        rb_self.call(ruby, key, |c, key| async move {
            session::delete(&c, &key).await
        })
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
