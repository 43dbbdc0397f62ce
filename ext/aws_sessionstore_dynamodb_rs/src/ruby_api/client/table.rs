//! `Native::Client`'s table calls: create, delete, describe.

use magnus::{method, prelude::*, Error, RClass, Ruby, Value};

use super::Client;
use crate::ops::table::{self, CreateTable};

impl Client {
    /// `create_table(Native::TableRequest)` → `:created` or `:exists`.
    fn create_table(ruby: &Ruby, rb_self: &Self, spec: CreateTable) -> Result<Value, Error> {
        rb_self.call(ruby, spec, |c, spec| async move {
            table::create(&c, spec).await
        })
    }

    /// `delete_table(table)` → `:deleted` or `:missing`.
    fn delete_table(ruby: &Ruby, rb_self: &Self, table: String) -> Result<Value, Error> {
        rb_self.call(
            ruby,
            table,
            |c, t| async move { table::delete(&c, &t).await },
        )
    }

    /// `describe_table(table)` → Hash with status, item_count, size_bytes,
    /// billing_mode, key_name, ttl_status, ttl_attribute.
    fn describe_table(ruby: &Ruby, rb_self: &Self, table: String) -> Result<Value, Error> {
        rb_self.call(
            ruby,
            table,
            |c, t| async move { table::describe(&c, &t).await },
        )
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("create_table", method!(Client::create_table, 1))?;
    class.define_method("delete_table", method!(Client::delete_table, 1))?;
    class.define_method("describe_table", method!(Client::describe_table, 1))?;
    Ok(())
}
