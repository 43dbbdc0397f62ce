//! `Native::Client`'s table calls: create, delete, describe.

use magnus::{method, prelude::*, r_struct::RStruct, Error, RClass, RHash, Ruby, Value};

use super::request::{billing, member};
use super::results::description;
use super::Client;
use crate::ops::table::{self, CreateTable, Created, Deleted};

impl Client {
    /// `create_table(Native::TableRequest)` → `:created` or `:exists`.
    pub(super) fn create_table(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<Value, Error> {
        let billing = billing(ruby, request)?;
        let spec = CreateTable {
            table: member(request, "table")?,
            key_name: member(request, "key_name")?,
            billing,
            enable_ttl: member(request, "enable_ttl")?,
        };
        let created = rb_self.run(
            ruby,
            |client| async move { table::create(&client, spec).await },
        )?;
        Ok(ruby
            .to_symbol(match created {
                Created::Created => "created",
                Created::AlreadyExisted => "exists",
            })
            .as_value())
    }

    /// `delete_table(table)` → `:deleted` or `:missing`.
    pub(super) fn delete_table(ruby: &Ruby, rb_self: &Self, table: String) -> Result<Value, Error> {
        let deleted = rb_self.run(ruby, |client| async move {
            table::delete(&client, &table).await
        })?;
        Ok(ruby
            .to_symbol(match deleted {
                Deleted::Deleted => "deleted",
                Deleted::Missing => "missing",
            })
            .as_value())
    }

    /// `describe_table(table)` → Hash with status, item_count, size_bytes,
    /// billing_mode, key_name, ttl_status, ttl_attribute.
    pub(super) fn describe_table(
        ruby: &Ruby,
        rb_self: &Self,
        table: String,
    ) -> Result<RHash, Error> {
        let d = rb_self.run(ruby, |client| async move {
            table::describe(&client, &table).await
        })?;
        description(ruby, d)
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("create_table", method!(Client::create_table, 1))?;
    class.define_method("delete_table", method!(Client::delete_table, 1))?;
    class.define_method("describe_table", method!(Client::describe_table, 1))?;
    Ok(())
}
