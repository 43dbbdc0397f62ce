//! `Native::Client`'s calls for `aws-sessionstore-dynamodb migrate`: whole
//! items a scan page at a time, and conditional rewrites.

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{method, prelude::*, r_struct::RStruct, Error, RClass, Ruby, Value};

use super::request::{member, string_map, typed_list, uncounted_key};
use super::Client;
use crate::ops::migrate;
use crate::ruby_api::item;

impl Client {
    /// `scan_page(Native::ScanRequest)` → `[items, next_key]`: whole items
    /// with S/N values as `[type, text]` (Native::Client#rewrite_item takes
    /// them back), and the key to pass as `start_key` for the next page, or
    /// nil after the last.
    pub(super) fn scan_page(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let table: String = member(request, "table")?;
        let limit: i32 = member(request, "limit")?;
        let start_key = string_map(request, "start_key")?;
        let (items, next) = rb_self.run(ruby, |client| async move {
            migrate::scan_page(&client, &table, start_key, limit).await
        })?;
        let list = ruby.ary_new_capa(items.len());
        for found in items {
            list.push(item::to_ruby_typed(ruby, found)?)?;
        }
        let next = match next {
            Some(key) => {
                let hash = ruby.hash_new();
                for (name, value) in key {
                    if let AttributeValue::S(text) = value {
                        hash.aset(name, text)?;
                    }
                }
                hash.as_value()
            }
            None => ruby.qnil().as_value(),
        };
        Ok(ruby
            .ary_new_from_values(&[list.as_value(), next])
            .as_value())
    }

    /// `rewrite_item(Native::RewriteRequest)` → true when written, false
    /// when an `expected` value no longer held (the item changed or is gone).
    pub(super) fn rewrite_item(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
    ) -> Result<bool, Error> {
        let expected = typed_list(ruby, request, "expected")?;
        let set = typed_list(ruby, request, "set")?;
        let (written, _) =
            rb_self.on_key(ruby, uncounted_key(request)?, |client, key| async move {
                migrate::rewrite(&client, &key, expected, set).await
            })?;
        Ok(written)
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("scan_page", method!(Client::scan_page, 1))?;
    class.define_method("rewrite_item", method!(Client::rewrite_item, 1))?;
    Ok(())
}
