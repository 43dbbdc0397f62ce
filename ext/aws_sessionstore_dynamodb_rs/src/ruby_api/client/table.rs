//! `Native::Client`'s table calls: create, delete, describe, and the user
//! index added or removed.

use magnus::{method, prelude::*, Error, RClass, Ruby, Value};

use super::request::TableName;
use super::Client;
use crate::ops::table::{self, CreateTable};

impl Client {
    /// `create_table(Native::TableRequest)` → `:created` or `:exists`.
    fn create_table(ruby: &Ruby, rb_self: &Self, spec: CreateTable) -> Result<Value, Error> {
        rb_self.call(ruby, spec, |c, spec| async move {
            table::create(&c, spec).await
        })
    }

    /// `add_user_index(Native::TableRequest)` → `:created` or `:exists`,
    /// once the index is ACTIVE.
    fn add_user_index(ruby: &Ruby, rb_self: &Self, spec: CreateTable) -> Result<Value, Error> {
        rb_self.call(ruby, spec, |c, spec| async move {
            table::add_user_index(&c, spec).await
        })
    }

    /// `remove_user_index(Native::TableName or a table's name)` →
    /// `:deleted` or `:missing`, once the index is gone.
    fn remove_user_index(ruby: &Ruby, rb_self: &Self, name: TableName) -> Result<Value, Error> {
        rb_self.call(ruby, name, |c, t| async move {
            table::remove_user_index(&c, &t.table, &t.stats).await
        })
    }

    /// `delete_table(Native::TableName or a table's name)` → `:deleted`
    /// or `:missing`.
    fn delete_table(ruby: &Ruby, rb_self: &Self, name: TableName) -> Result<Value, Error> {
        rb_self.call(ruby, name, |c, t| async move {
            table::delete(&c, &t.table, &t.stats).await
        })
    }

    /// `describe_table(Native::TableName or a table's name)` → Hash with
    /// status, item_count, size_bytes, billing_mode, key_name, ttl_status,
    /// ttl_attribute.
    fn describe_table(ruby: &Ruby, rb_self: &Self, name: TableName) -> Result<Value, Error> {
        rb_self.call(ruby, name, |c, t| async move {
            table::describe(&c, &t.table, &t.stats).await
        })
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("create_table", method!(Client::create_table, 1))?;
    class.define_method("delete_table", method!(Client::delete_table, 1))?;
    class.define_method("describe_table", method!(Client::describe_table, 1))?;
    class.define_method("add_user_index", method!(Client::add_user_index, 1))?;
    class.define_method("remove_user_index", method!(Client::remove_user_index, 1))?;
    Ok(())
}
