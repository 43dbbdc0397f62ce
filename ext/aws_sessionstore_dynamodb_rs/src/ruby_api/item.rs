//! DynamoDB attribute values to Ruby objects, after the GVL is taken back.

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{prelude::*, Error, IntoValue, RClass, RHash, RModule, Ruby, Value};

use crate::ops::item::Item;

/// A Hash of attribute name to value: S as String, N as Integer or Float
/// when one holds it exactly, else as `Native::StoredNumber` (the number's
/// own text: a condition on it compares what DynamoDB stores), BOOL, NULL
/// as nil. Other types (B
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
    match exact_number(&n) {
        Some(Exact::Integer(i)) => i.into_value_with(ruby),
        Some(Exact::Float(f)) => f.into_value_with(ruby),
        None => stored_number(ruby, n),
    }
}

enum Exact {
    Integer(i64),
    Float(f64),
}

/// The Integer or Float that is exactly this number, written exactly so
/// (DynamoDB answers numbers in their shortest form); None when neither is
/// (more digits than a Float holds, or out of range).
fn exact_number(n: &str) -> Option<Exact> {
    if let Ok(i) = n.parse::<i64>() {
        return (i.to_string() == n).then_some(Exact::Integer(i));
    }
    let f = n.parse::<f64>().ok().filter(|f| f.is_finite())?;
    (format!("{f}") == n).then_some(Exact::Float(f))
}

/// `Aws::SessionStore::DynamoDB::Native::StoredNumber.new(text)`, or the
/// text as a String if Ruby has no such class (never: native.rb defines it).
fn stored_number(ruby: &Ruby, n: String) -> Value {
    let class: Result<RClass, Error> = ruby
        .class_object()
        .const_get::<_, RModule>("Aws")
        .and_then(|m| m.const_get::<_, RModule>("SessionStore"))
        .and_then(|m| m.const_get::<_, RModule>("DynamoDB"))
        .and_then(|m| m.const_get::<_, RModule>("Native"))
        .and_then(|m| m.const_get::<_, RClass>("StoredNumber"));
    match class.and_then(|c| c.new_instance((n.as_str(),))) {
        Ok(number) => number,
        Err(_) => n.into_value_with(ruby),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_a_float_holds_exactly_are_floats_and_the_others_are_not() {
        assert!(matches!(
            exact_number("1795303103"),
            Some(Exact::Integer(1795303103))
        ));
        assert!(matches!(
            exact_number("1795303103.393567"),
            Some(Exact::Float(_))
        ));
        assert!(exact_number("1795303103.1234567890123").is_none());
        assert!(exact_number("99999999999999999999").is_none());
        assert!(exact_number("1e400").is_none());
    }
}
