//! Creating, deleting and describing the session table.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ProvisionedThroughput,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveDescription,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::ops::schema::EXPIRE_AT;
use crate::ops::stats::{send_traced, CallStats};

/// A table call's stats, when it was asked for them (instrumented).
type Stats = Option<Arc<CallStats>>;

const POLL: Duration = Duration::from_millis(100);
const WAIT_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Billing {
    Provisioned { read: i64, write: i64 },
    PayPerRequest,
}

#[derive(Debug, Clone)]
pub struct CreateTable {
    pub table: String,
    pub key_name: String,
    pub billing: Billing,
    pub enable_ttl: bool,
    pub stats: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    AlreadyExisted,
}

/// Creates the table and waits until it is active; an existing table is not
/// an error. Then turns TTL on for `expire_at` when asked and not yet on.
pub async fn create(client: &Client, spec: CreateTable) -> Result<Created, StoreError> {
    let mut request = client
        .create_table()
        .table_name(&spec.table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&spec.key_name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(&spec.key_name)
                .key_type(KeyType::Hash)
                .build()
                .map_err(build_error)?,
        );
    request = match spec.billing {
        Billing::Provisioned { read, write } => request
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(
                ProvisionedThroughput::builder()
                    .read_capacity_units(read)
                    .write_capacity_units(write)
                    .build()
                    .map_err(build_error)?,
            ),
        Billing::PayPerRequest => request.billing_mode(BillingMode::PayPerRequest),
    };
    let created = match send_traced!(request, &spec.stats).map_err(StoreError::from_sdk) {
        Ok(_) => Created::Created,
        Err(e) if e.service_code() == Some("ResourceInUseException") => Created::AlreadyExisted,
        Err(e) => return Err(e),
    };
    wait_active(client, &spec.table, &spec.stats).await?;
    if spec.enable_ttl {
        enable_ttl(client, &spec.table, &spec.stats).await?;
    }
    Ok(created)
}

async fn wait_active(client: &Client, table: &str, stats: &Stats) -> Result<(), StoreError> {
    let started = tokio::time::Instant::now();
    loop {
        let status = describe_table(client, table, stats)
            .await?
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() > WAIT_LIMIT {
            return Err(StoreError::Timeout(format!(
                "table {table} did not become ACTIVE within {} s",
                WAIT_LIMIT.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn enable_ttl(client: &Client, table: &str, stats: &Stats) -> Result<(), StoreError> {
    let status = describe_ttl(client, table, stats)
        .await?
        .and_then(|d| d.time_to_live_status);
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled) | Some(TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let request = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRE_AT)
                .build()
                .map_err(build_error)?,
        );
    send_traced!(request, stats).map_err(StoreError::from_sdk)?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    Missing,
}

/// Deletes the table and waits until it is gone; a missing table is not an error.
pub async fn delete(client: &Client, table: &str, stats: &Stats) -> Result<Deleted, StoreError> {
    let request = client.delete_table().table_name(table);
    match send_traced!(request, stats).map_err(StoreError::from_sdk) {
        Ok(_) => {}
        Err(e) if e.service_code() == Some("ResourceNotFoundException") => {
            return Ok(Deleted::Missing)
        }
        Err(e) => return Err(e),
    }
    let started = tokio::time::Instant::now();
    loop {
        match describe_table(client, table, stats).await {
            Err(e) if e.service_code() == Some("ResourceNotFoundException") => {
                return Ok(Deleted::Deleted)
            }
            Err(e) => return Err(e),
            Ok(_) if started.elapsed() > WAIT_LIMIT => {
                return Err(StoreError::Timeout(format!(
                    "table {table} was not gone within {} s",
                    WAIT_LIMIT.as_secs()
                )))
            }
            Ok(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// What `stats` shows of a table.
#[derive(Debug, Clone, Default)]
pub struct Description {
    pub status: String,
    pub item_count: i64,
    pub size_bytes: i64,
    pub billing_mode: String,
    pub key_name: Option<String>,
    pub ttl_status: String,
    pub ttl_attribute: Option<String>,
}

pub async fn describe(
    client: &Client,
    table: &str,
    stats: &Stats,
) -> Result<Description, StoreError> {
    let t = describe_table(client, table, stats)
        .await?
        .ok_or_else(|| StoreError::Internal("DescribeTable returned no table".into()))?;
    let ttl = describe_ttl(client, table, stats).await?;
    Ok(Description {
        status: t
            .table_status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        item_count: t.item_count.unwrap_or(0),
        size_bytes: t.table_size_bytes.unwrap_or(0),
        billing_mode: t
            .billing_mode_summary
            .and_then(|b| b.billing_mode)
            .map(|b| b.as_str().to_string())
            .unwrap_or_else(|| "PROVISIONED".to_string()),
        key_name: t
            .key_schema
            .and_then(|k| k.into_iter().find(|e| e.key_type == KeyType::Hash))
            .map(|e| e.attribute_name),
        ttl_status: ttl
            .as_ref()
            .and_then(|d| d.time_to_live_status.as_ref())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "DISABLED".to_string()),
        ttl_attribute: ttl.and_then(|d| d.attribute_name),
    })
}

async fn describe_table(
    client: &Client,
    table: &str,
    stats: &Stats,
) -> Result<Option<TableDescription>, StoreError> {
    let request = client.describe_table().table_name(table);
    let out = send_traced!(request, stats);
    Ok(out.map_err(StoreError::from_sdk)?.table)
}

async fn describe_ttl(
    client: &Client,
    table: &str,
    stats: &Stats,
) -> Result<Option<TimeToLiveDescription>, StoreError> {
    let request = client.describe_time_to_live().table_name(table);
    let out = send_traced!(request, stats);
    Ok(out.map_err(StoreError::from_sdk)?.time_to_live_description)
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(format!("request build failed: {e}"))
}
