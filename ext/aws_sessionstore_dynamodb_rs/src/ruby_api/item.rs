//! DynamoDB attribute values to Ruby objects, after the GVL is taken back.

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{Error, IntoValue, RHash, Ruby, Value};

use crate::ops::item::Item;

/// A Hash of attribute name to value: S as String, N as Integer or Float
/// (or String when it fits neither), BOOL, NULL as nil. Other types (B
/// included: the store never writes binary) come back as a Symbol naming
/// the type, so Ruby can reject an item with a wrongly typed attribute
/// instead of reading it as a session.
pub fn to_ruby(ruby: &Ruby, item: Item) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    for (name, value) in item {
        hash.aset(name, attribute(ruby, value))?;
    }
    Ok(hash)
}

fn attribute(ruby: &Ruby, value: AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => s.into_value_with(ruby),
        AttributeValue::N(n) => number(ruby, n),
        AttributeValue::Bool(b) => b.into_value_with(ruby),
        AttributeValue::Null(_) => ruby.qnil().into_value_with(ruby),
        AttributeValue::B(_) => ruby.to_symbol("B").into_value_with(ruby),
        AttributeValue::Ss(_) => ruby.to_symbol("SS").into_value_with(ruby),
        AttributeValue::Ns(_) => ruby.to_symbol("NS").into_value_with(ruby),
        AttributeValue::Bs(_) => ruby.to_symbol("BS").into_value_with(ruby),
        AttributeValue::L(_) => ruby.to_symbol("L").into_value_with(ruby),
        AttributeValue::M(_) => ruby.to_symbol("M").into_value_with(ruby),
        _ => ruby.to_symbol("unknown").into_value_with(ruby),
    }
}

fn number(ruby: &Ruby, n: String) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return i.into_value_with(ruby);
    }
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => f.into_value_with(ruby),
        _ => n.into_value_with(ruby),
    }
}

/// An item with every S and N value as `[type, text]`, exactly as stored
/// (what `migrate` compares and rewrites); other types as `[type, nil]`.
pub fn to_ruby_typed(ruby: &Ruby, item: Item) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    for (name, value) in item {
        let typed = match value {
            AttributeValue::S(s) => ("S", Some(s)),
            AttributeValue::N(n) => ("N", Some(n)),
            AttributeValue::B(_) => ("B", None),
            AttributeValue::Bool(_) => ("BOOL", None),
            AttributeValue::Null(_) => ("NULL", None),
            AttributeValue::Ss(_) => ("SS", None),
            AttributeValue::Ns(_) => ("NS", None),
            AttributeValue::Bs(_) => ("BS", None),
            AttributeValue::L(_) => ("L", None),
            AttributeValue::M(_) => ("M", None),
            _ => ("unknown", None),
        };
        hash.aset(
            name,
            ruby.ary_new_from_values(&[
                typed.0.into_value_with(ruby),
                typed.1.into_value_with(ruby),
            ]),
        )?;
    }
    Ok(hash)
}

/// `[type, text]` (S or N) back to an attribute value.
pub fn typed_value(kind: &str, text: String) -> Option<AttributeValue> {
    match kind {
        "S" => Some(AttributeValue::S(text)),
        "N" => Some(AttributeValue::N(text)),
        _ => None,
    }
}
