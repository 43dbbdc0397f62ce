//! `Native::Client`'s calls for `aws-sessionstore-dynamodb migrate`: whole
//! items a scan page at a time, and conditional rewrites.

use magnus::{method, prelude::*, Error, RClass, Ruby, Value};

use super::request::{RewriteRequest, ScanRequest};
use super::Client;
use crate::ops::migrate;

impl Client {
    /// `scan_page(Native::ScanRequest)` → `[items, next_key]`: whole items
    /// with S/N values as `[type, text]` (Native::Client#rewrite_item takes
    /// them back), and the key to pass as `start_key` for the next page, or
    /// nil after the last.
    fn scan_page(ruby: &Ruby, rb_self: &Self, scan: ScanRequest) -> Result<Value, Error> {
        rb_self.call(ruby, scan, |c, r| async move {
            migrate::scan_page(&c, &r.table, r.start_key, r.limit).await
        })
    }

    /// `rewrite_item(Native::RewriteRequest)` → true when written, false
    /// when an `expected` value no longer held (the item changed or is gone).
    fn rewrite_item(ruby: &Ruby, rb_self: &Self, rewrite: RewriteRequest) -> Result<Value, Error> {
        rb_self.call(ruby, rewrite, |c, r| async move {
            migrate::rewrite(&c, &r.key, r.expected, r.set).await
        })
    }
}

/// Registers this file's methods on `Native::Client`.
pub(super) fn define(class: RClass) -> Result<(), Error> {
    class.define_method("scan_page", method!(Client::scan_page, 1))?;
    class.define_method("rewrite_item", method!(Client::rewrite_item, 1))?;
    Ok(())
}
