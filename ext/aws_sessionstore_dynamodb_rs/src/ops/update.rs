//! `Update`, the one builder of UpdateItem expressions (sessions, locks
//! and migrate build theirs here), and `Refusal`, what an UpdateItem's
//! failed condition says.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::ops::item::{Item, ItemKey};

/// One UpdateItem on an item, built clause by clause: its update expression
/// (`SET` then `REMOVE`), its condition (clauses joined by `AND`) and the
/// names and values they use. A clause's `#x` names an attribute and its
/// `:x` holds a value; only the ones a clause uses are sent (DynamoDB
/// refuses unused ones). Sessions, locks and migrate build theirs here.
#[derive(Debug, Default)]
pub struct Update {
    sets: Vec<String>,
    removes: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }

    /// `SET #x = :x`: `attribute` (as `#x`) to `value` (as `:x`).
    pub fn set(&mut self, x: &str, attribute: &str, value: AttributeValue) -> &mut Self {
        self.sets.push(format!("#{x} = :{x}"));
        self.name(x, attribute).value(x, value)
    }

    /// `REMOVE #x`: `attribute` (as `#x`).
    pub fn remove(&mut self, x: &str, attribute: &str) -> &mut Self {
        self.removes.push(format!("#{x}"));
        self.name(x, attribute)
    }

    /// A condition clause, in the names and values given separately.
    pub fn require(&mut self, clause: &str) -> &mut Self {
        self.conditions.push(clause.to_string());
        self
    }

    /// The condition `#x = :x`: `attribute` (as `#x`) still holds `value`.
    pub fn require_equal(&mut self, x: &str, attribute: &str, value: AttributeValue) -> &mut Self {
        self.require(&format!("#{x} = :{x}"))
            .name(x, attribute)
            .value(x, value)
    }

    /// `#x` names `attribute`.
    pub fn name(&mut self, x: &str, attribute: &str) -> &mut Self {
        self.names.insert(format!("#{x}"), attribute.to_string());
        self
    }

    /// `:x` holds `value`.
    pub fn value(&mut self, x: &str, value: AttributeValue) -> &mut Self {
        self.values.insert(format!(":{x}"), value);
        self
    }

    /// The UpdateItem request on `key` with these expressions.
    pub fn request(&mut self, client: &Client, key: &ItemKey) -> UpdateItemFluentBuilder {
        let mut clauses = Vec::new();
        if !self.sets.is_empty() {
            clauses.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            clauses.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        let condition = (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "));
        let names = std::mem::take(&mut self.names);
        let values = std::mem::take(&mut self.values);
        client
            .update_item()
            .table_name(&key.table)
            .key(&key.key_name, key.key_value())
            .update_expression(clauses.join(" "))
            .set_condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
    }
}

/// What an UpdateItem error says about its condition expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Any other error than a failed condition.
    NotConditional,
    /// The condition failed and no old item came back (there is none, or
    /// the request did not ask for it, or the server does not send it).
    Refused,
    /// The condition failed; the item as it was.
    RefusedWith(Item),
}

impl Refusal {
    /// Whether the condition failed (with or without the old item).
    pub fn is_conditional(&self) -> bool {
        !matches!(self, Refusal::NotConditional)
    }
}

/// Whether `err` is a failed condition, and the old item if DynamoDB
/// returned it.
pub fn refusal(err: &SdkError<UpdateItemError, HttpResponse>) -> Refusal {
    match err {
        SdkError::ServiceError(service) => match service.err() {
            UpdateItemError::ConditionalCheckFailedException(e) => match &e.item {
                Some(old) => Refusal::RefusedWith(old.clone()),
                None => Refusal::Refused,
            },
            _ => Refusal::NotConditional,
        },
        _ => Refusal::NotConditional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::schema::{DATA, EXPIRE_AT, LOCKED_AT, UPDATED_AT};

    fn built(update: &mut Update) -> aws_sdk_dynamodb::operation::update_item::UpdateItemInput {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let key = ItemKey {
            table: "t".into(),
            key_name: "id".into(),
            key: "k".into(),
            stats: None,
        };
        update
            .request(&Client::from_conf(config), &key)
            .as_input()
            .clone()
            .build()
            .expect("input")
    }

    #[test]
    fn sets_then_removes_and_conditions_joined_with_and() {
        let mut update = Update::new();
        update
            .name("k", "id")
            .set("u", UPDATED_AT, AttributeValue::S("1".into()))
            .set("d", DATA, AttributeValue::S("{}".into()))
            .remove("e", EXPIRE_AT)
            .require("attribute_exists(#k)")
            .require_equal("l", LOCKED_AT, AttributeValue::S("2".into()))
            .remove("l", LOCKED_AT);
        let input = built(&mut update);
        assert_eq!(
            input.update_expression(),
            Some("SET #u = :u, #d = :d REMOVE #e, #l")
        );
        assert_eq!(
            input.condition_expression(),
            Some("attribute_exists(#k) AND #l = :l")
        );
        let names = input.expression_attribute_names().expect("names");
        assert_eq!(names.len(), 5);
        assert_eq!(names["#l"], LOCKED_AT);
        assert_eq!(
            input.expression_attribute_values().expect("values").len(),
            3
        );
    }

    #[test]
    fn no_condition_and_no_values_are_left_out() {
        let mut update = Update::new();
        update.remove("e", EXPIRE_AT);
        let input = built(&mut update);
        assert_eq!(input.update_expression(), Some("REMOVE #e"));
        assert_eq!(input.condition_expression(), None);
        assert_eq!(input.expression_attribute_values(), None);
    }
}
