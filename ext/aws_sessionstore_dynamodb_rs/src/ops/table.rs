//! Creating, deleting and describing the session table, and adding or
//! removing its user index (`USER_INDEX`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, ProvisionedThroughput,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveDescription,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::ops::schema::{EXPIRE_AT, USER_ID, USER_INDEX};
use crate::ops::stats::{send_traced, CallStats};

/// A table call's stats, when it was asked for them (instrumented).
type Stats = Option<Arc<CallStats>>;

const POLL: Duration = Duration::from_millis(100);
const WAIT_LIMIT: Duration = Duration::from_secs(300);
/// An index is built from every item of the table: on a large table that
/// takes a while, so its wait polls less often, for longer.
const INDEX_POLL_MAX: Duration = Duration::from_secs(5);
const INDEX_WAIT_LIMIT: Duration = Duration::from_secs(3600);

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
    /// Create the table with the user index (`create_table`); unused by
    /// `add_user_index`, which always adds it.
    pub user_index: bool,
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
            .provisioned_throughput(throughput(read, write)?),
        Billing::PayPerRequest => request.billing_mode(BillingMode::PayPerRequest),
    };
    if spec.user_index {
        let mut index = GlobalSecondaryIndex::builder()
            .index_name(USER_INDEX)
            .key_schema(user_key_schema()?)
            .projection(keys_only());
        if let Billing::Provisioned { read, write } = spec.billing {
            index = index.provisioned_throughput(throughput(read, write)?);
        }
        request = request
            .attribute_definitions(user_attribute()?)
            .global_secondary_indexes(index.build().map_err(build_error)?);
    }
    let created = match send_traced!(request, &spec.stats).map_err(StoreError::from_sdk) {
        Ok(_) => Created::Created,
        Err(e) if e.service_code() == Some("ResourceInUseException") => Created::AlreadyExisted,
        Err(e) => return Err(e),
    };
    wait_active(client, &spec.table, &spec.stats).await?;
    if spec.user_index && created == Created::Created {
        wait_index(client, &spec.table, &spec.stats, Some(IndexStatus::Active)).await?;
    }
    if spec.enable_ttl {
        enable_ttl(client, &spec.table, &spec.stats).await?;
    }
    Ok(created)
}

/// Adds the user index to an existing table (UpdateTable), with the
/// table's billing (`spec.billing`'s capacities when provisioned), and
/// waits until it is ACTIVE: DynamoDB builds it from every item first. An
/// index already there is waited for too, and is not an error.
pub async fn add_user_index(client: &Client, spec: CreateTable) -> Result<Created, StoreError> {
    let table = describe_table(client, &spec.table, &spec.stats)
        .await?
        .ok_or_else(|| StoreError::Internal("DescribeTable returned no table".into()))?;
    if index_status(&table).is_some() {
        wait_index(client, &spec.table, &spec.stats, Some(IndexStatus::Active)).await?;
        return Ok(Created::AlreadyExisted);
    }
    let provisioned = table
        .billing_mode_summary
        .and_then(|b| b.billing_mode)
        .is_none_or(|mode| mode == BillingMode::Provisioned);
    let mut action = CreateGlobalSecondaryIndexAction::builder()
        .index_name(USER_INDEX)
        .key_schema(user_key_schema()?)
        .projection(keys_only());
    if provisioned {
        let (read, write) = match spec.billing {
            Billing::Provisioned { read, write } => (read, write),
            Billing::PayPerRequest => (DEFAULT_INDEX_CAPACITY, DEFAULT_INDEX_CAPACITY),
        };
        action = action.provisioned_throughput(throughput(read, write)?);
    }
    let request = client
        .update_table()
        .table_name(&spec.table)
        .attribute_definitions(user_attribute()?)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(action.build().map_err(build_error)?)
                .build(),
        );
    send_traced!(request, &spec.stats).map_err(StoreError::from_sdk)?;
    wait_index(client, &spec.table, &spec.stats, Some(IndexStatus::Active)).await?;
    Ok(Created::Created)
}

/// Removes the user index (UpdateTable) and waits until it is gone; a
/// table without it is not an error.
pub async fn remove_user_index(
    client: &Client,
    table: &str,
    stats: &Stats,
) -> Result<Deleted, StoreError> {
    let found = describe_table(client, table, stats).await?;
    if found.as_ref().and_then(index_status).is_none() {
        return Ok(Deleted::Missing);
    }
    let request = client
        .update_table()
        .table_name(table)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name(USER_INDEX)
                        .build()
                        .map_err(build_error)?,
                )
                .build(),
        );
    send_traced!(request, stats).map_err(StoreError::from_sdk)?;
    wait_index(client, table, stats, None).await?;
    Ok(Deleted::Deleted)
}

/// Capacity of an index added to a provisioned table when the options say
/// `pay_per_request` (the table's own mode decides).
const DEFAULT_INDEX_CAPACITY: i64 = 5;

/// The user index's status in a table's description, if it has one.
fn index_status(table: &TableDescription) -> Option<IndexStatus> {
    table
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some(USER_INDEX))
        .map(|index| {
            index
                .index_status()
                .cloned()
                .unwrap_or(IndexStatus::Creating)
        })
}

/// Waits until the user index has `wanted` status (None: until it is
/// gone), polling more slowly as it goes, up to `INDEX_WAIT_LIMIT`.
async fn wait_index(
    client: &Client,
    table: &str,
    stats: &Stats,
    wanted: Option<IndexStatus>,
) -> Result<(), StoreError> {
    let started = tokio::time::Instant::now();
    let mut pause = POLL;
    loop {
        let status = describe_table(client, table, stats)
            .await?
            .as_ref()
            .and_then(index_status);
        if status == wanted {
            return Ok(());
        }
        if started.elapsed() > INDEX_WAIT_LIMIT {
            let now = status.map_or("gone".to_string(), |s| s.as_str().to_string());
            return Err(StoreError::Timeout(format!(
                "index {USER_INDEX} of table {table} is still {now} after {} s; DynamoDB goes on \
                 building it, and the store reads the user records meanwhile",
                INDEX_WAIT_LIMIT.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(INDEX_POLL_MAX);
    }
}

fn throughput(read: i64, write: i64) -> Result<ProvisionedThroughput, StoreError> {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .map_err(build_error)
}

fn user_attribute() -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(USER_ID)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn user_key_schema() -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(USER_ID)
        .key_type(KeyType::Hash)
        .build()
        .map_err(build_error)
}

/// Only the keys: the table's and `user_id` (never `data`).
fn keys_only() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::KeysOnly)
        .build()
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
    /// The user index's status (ACTIVE, CREATING, ...), if the table has it.
    pub user_index: Option<String>,
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
    let user_index = index_status(&t).map(|s| s.as_str().to_string());
    Ok(Description {
        user_index,
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
