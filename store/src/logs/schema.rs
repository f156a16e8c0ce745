//! The tantivy schema of a day index, the analyzers its text fields use, and the conversion of
//! a record into a document and back.
//!
//! Fields (all unstored except `record`, which holds the record so reads are lossless):
//! - `ts` (u64, fast): the effective time ([`LogRecord::effective_time_unix_nano`], or the
//!   arrival time when the record has neither time); `observed_ts` (u64, fast).
//! - `seq` (u64, fast): the record's sequence number, unique per store, the tie-break of the
//!   ordering and the key that merges head and index results without duplicates.
//! - `severity_number` (u64, fast), `severity_text`, `service`, `scope` (exact, lowercased).
//! - `body` (full text with positions, analyzer [`BODY_ANALYZER`]): strings as they are, other
//!   bodies as their JSON text ([`AnyValue::to_text`]).
//! - `trace_id`, `span_id` (bytes, indexed).
//! - `attributes` (JSON, every leaf as its text, exact and lowercased, dotted keys expanded
//!   so `http.method` and `{"http": {"method": …}}` are one path).
//! - `resource_id` (u64, indexed): the number of the record's resource in the index's
//!   resource table (`super::resources`), which holds each distinct resource once.
//! - `record` (bytes, stored, zstd doc store): [`RECORD_WITH_RESOURCE_NUMBER`] then the
//!   postcard-encoded [`StoredRecord`] (the record, its scope and its resource's number).
//!
//! Format 1 (before `resource_id`): a `resource` JSON field like `attributes` held every
//! record's resource attributes, and `record` held the whole [`LogRow`] after
//! [`RECORD_WITH_RESOURCE`]. Such indexes are still read and written in their own format
//! ([`ResourceField`] says which an index has, from its schema).
//!
//! Changing a field, an analyzer or the record encoding changes the on-disk format: bump
//! [`INDEX_FORMAT_VERSION`] (recorded in every commit's payload) and keep a reader for the
//! old one.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sightline_model::{AnyValue, KeyValue, LogRecord, LogRow, Resource, Scope};
use tantivy::schema::{
    BytesOptions, Field, IndexRecordOption, JsonObjectOptions, NumericOptions, OwnedValue, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenizerManager,
};
use tantivy::{IndexSettings, TantivyDocument};

/// Version of the index layout, recorded in every commit's payload.
pub const INDEX_FORMAT_VERSION: u8 = 2;
/// The format before resource tables: every record's resource attributes indexed with it.
pub const FORMAT_WITH_RESOURCE_ATTRIBUTES: u8 = 1;
/// Version byte of a stored record holding its whole [`LogRow`] (format 1 indexes).
pub const RECORD_WITH_RESOURCE: u8 = 1;
/// Version byte of a stored record holding its resource's number ([`StoredRecord`]).
pub const RECORD_WITH_RESOURCE_NUMBER: u8 = 2;
/// The analyzer of `body`: words split on non-alphanumeric characters, lowercased.
pub const BODY_ANALYZER: &str = "sightline_body";
/// The analyzer of exact fields and attribute values: the whole value, lowercased.
pub const EXACT_ANALYZER: &str = "sightline_exact";
/// Tokens longer than this (bytes) are not indexed.
const MAX_TOKEN_BYTES: usize = 255;

/// The schema's fields.
#[derive(Debug, Clone, Copy)]
pub struct LogFields {
    /// Effective time, unix nanoseconds.
    pub ts: Field,
    /// Observed time, unix nanoseconds.
    pub observed_ts: Field,
    /// Store-wide sequence number.
    pub seq: Field,
    /// OTLP severity number.
    pub severity_number: Field,
    /// Severity text, lowercased.
    pub severity_text: Field,
    /// `service.name`, lowercased.
    pub service: Field,
    /// Scope name, lowercased.
    pub scope: Field,
    /// Full-text body.
    pub body: Field,
    /// Trace id bytes.
    pub trace_id: Field,
    /// Span id bytes.
    pub span_id: Field,
    /// Log attributes (JSON).
    pub attributes: Field,
    /// Where the record's resource is.
    pub resource: ResourceField,
    /// The stored record.
    pub record: Field,
}

/// Where a day index keeps its records' resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceField {
    /// Format 1: every record's resource attributes in this JSON field, its whole row stored.
    Attributes(Field),
    /// Format 2: the number of the record's resource in the index's resource table.
    Number(Field),
}

impl ResourceField {
    /// The index format this field belongs to.
    pub fn format(self) -> u8 {
        match self {
            ResourceField::Attributes(_) => FORMAT_WITH_RESOURCE_ATTRIBUTES,
            ResourceField::Number(_) => INDEX_FORMAT_VERSION,
        }
    }
}

/// A record's resource as its document holds it.
#[derive(Debug, Clone, Copy)]
pub enum DocumentResource {
    /// Format 1: the attributes, indexed, and the resource stored with the record.
    Attributes(Field),
    /// Format 2: the resource's number in the table.
    Number(Field, u64),
}

/// What a format 2 index stores per record: everything but its resource, which it names by
/// number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord<R, S> {
    /// The resource's number in the index's resource table.
    pub resource: u64,
    /// The record.
    pub record: R,
    /// Its instrumentation scope.
    pub scope: S,
}

impl LogFields {
    /// The fields of an index's schema, format 1 or 2.
    ///
    /// # Errors
    /// The name of a field the schema lacks.
    pub fn of(schema: &Schema) -> Result<Self, String> {
        let field = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| format!("the schema has no field {name}"))
        };
        let resource = match (field("resource_id"), field("resource")) {
            (Ok(number), _) => ResourceField::Number(number),
            (Err(_), Ok(attributes)) => ResourceField::Attributes(attributes),
            (Err(error), Err(_)) => return Err(error),
        };
        Ok(Self {
            ts: field("ts")?,
            observed_ts: field("observed_ts")?,
            seq: field("seq")?,
            severity_number: field("severity_number")?,
            severity_text: field("severity_text")?,
            service: field("service")?,
            scope: field("scope")?,
            body: field("body")?,
            trace_id: field("trace_id")?,
            span_id: field("span_id")?,
            attributes: field("attributes")?,
            resource,
            record: field("record")?,
        })
    }
}

/// Builds the schema of a new index (format 2).
pub fn log_schema() -> Schema {
    schema_of_format(INDEX_FORMAT_VERSION)
}

/// Builds the schema of a format 1 index (tests of reading old indexes).
#[cfg(test)]
pub fn log_schema_format_1() -> Schema {
    schema_of_format(FORMAT_WITH_RESOURCE_ATTRIBUTES)
}

fn schema_of_format(format: u8) -> Schema {
    let mut builder = Schema::builder();
    let fast = NumericOptions::default().set_fast();
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(EXACT_ANALYZER)
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    );
    let body = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(BODY_ANALYZER)
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let json = JsonObjectOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(EXACT_ANALYZER)
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_expand_dots_enabled();
    let id = BytesOptions::default().set_indexed();
    builder.add_u64_field("ts", fast.clone());
    builder.add_u64_field("observed_ts", fast.clone());
    builder.add_u64_field("seq", fast.clone());
    builder.add_u64_field("severity_number", fast);
    builder.add_text_field("severity_text", exact.clone());
    builder.add_text_field("service", exact.clone());
    builder.add_text_field("scope", exact);
    builder.add_text_field("body", body);
    builder.add_bytes_field("trace_id", id.clone());
    builder.add_bytes_field("span_id", id);
    builder.add_json_field("attributes", json.clone());
    if format == FORMAT_WITH_RESOURCE_ATTRIBUTES {
        builder.add_json_field("resource", json);
    } else {
        builder.add_u64_field("resource_id", NumericOptions::default().set_indexed());
    }
    builder.add_bytes_field("record", BytesOptions::default().set_stored());
    builder.build()
}

/// The index settings: a zstd doc store in blocks large enough that repeated resources and
/// line templates compress well. Measured with `benches/logsgen` (3 M records): 256 KiB blocks
/// at level 3 store 55 bytes per record, as 128 KiB at level 9 do, where 64 KiB at level 3
/// stored 63; level 9 cost a fifth of the ingest rate, the larger block nothing measurable
/// (a fetch decompresses one block, ~0.3 ms). Existing indexes keep the settings they were
/// created with.
pub fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(3),
        }),
        docstore_blocksize: 256 * 1024,
        ..IndexSettings::default()
    }
}

/// The body analyzer (also used to match head records and tail subscribers, so that the head
/// and the index agree on what a word is).
pub fn body_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .build()
}

/// The exact analyzer: the whole value, lowercased.
pub fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .build()
}

/// Registers the analyzers with an index's tokenizer manager (they are not persisted, so
/// every open must do this).
pub fn register_analyzers(tokenizers: &TokenizerManager) {
    tokenizers.register(BODY_ANALYZER, body_analyzer());
    tokenizers.register(EXACT_ANALYZER, exact_analyzer());
}

/// Splits text into the tokens the body analyzer indexes.
pub fn body_tokens(text: &str) -> Vec<String> {
    let mut analyzer = body_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while stream.advance() {
        tokens.push(stream.token().text.clone());
    }
    tokens
}

/// Normalises a value the way the exact analyzer does; `None` when it would not be indexed.
pub fn exact_token(text: &str) -> Option<String> {
    (text.len() <= MAX_TOKEN_BYTES).then(|| text.to_lowercase())
}

/// The text `body` indexes for a record.
pub fn body_text(row: &LogRow) -> String {
    match &row.record.body {
        None => String::new(),
        Some(body) => body.to_text(),
    }
}

/// Builds the document of a record.
///
/// # Errors
/// Postcard failures encoding the record (allocation failure only).
pub fn record_document(
    fields: &LogFields,
    row: &LogRow,
    resource: DocumentResource,
    timestamp_unix_nano: u64,
    sequence: u64,
) -> Result<TantivyDocument, postcard::Error> {
    let record = &row.record;
    let mut document = TantivyDocument::new();
    document.add_u64(fields.ts, timestamp_unix_nano);
    document.add_u64(fields.observed_ts, record.observed_time_unix_nano);
    document.add_u64(fields.seq, sequence);
    document.add_u64(
        fields.severity_number,
        u64::try_from(record.severity_number).unwrap_or(0),
    );
    if !record.severity_text.is_empty() {
        document.add_text(fields.severity_text, &record.severity_text);
    }
    document.add_text(fields.service, row.service_name());
    if !row.scope.name.is_empty() {
        document.add_text(fields.scope, &row.scope.name);
    }
    let body = body_text(row);
    if !body.is_empty() {
        document.add_text(fields.body, &body);
    }
    if let Some(trace_id) = &record.trace_id {
        document.add_bytes(fields.trace_id, trace_id.as_bytes());
    }
    if let Some(span_id) = &record.span_id {
        document.add_bytes(fields.span_id, span_id.as_bytes());
    }
    if !record.attributes.is_empty() {
        document.add_object(fields.attributes, json_object(&record.attributes));
    }
    let stored = match resource {
        DocumentResource::Attributes(field) => {
            if !row.resource.attributes.is_empty() {
                document.add_object(field, json_object(&row.resource.attributes));
            }
            postcard::to_extend(row, vec![RECORD_WITH_RESOURCE])?
        }
        DocumentResource::Number(field, number) => {
            document.add_u64(field, number);
            let stored = StoredRecord {
                resource: number,
                record: &row.record,
                scope: &*row.scope,
            };
            postcard::to_extend(&stored, vec![RECORD_WITH_RESOURCE_NUMBER])?
        }
    };
    document.add_bytes(fields.record, &stored);
    Ok(document)
}

/// Decodes a stored record of either format; `resource` finds a resource by its number.
///
/// # Errors
/// A description of what is wrong: an unknown version, undecodable bytes or an unknown
/// resource number.
pub fn decode_record(
    bytes: &[u8],
    resource: &dyn Fn(u64) -> Option<Arc<Resource>>,
) -> Result<LogRow, String> {
    match bytes.split_first() {
        Some((&RECORD_WITH_RESOURCE, rest)) => {
            postcard::from_bytes(rest).map_err(|error| format!("undecodable record: {error}"))
        }
        Some((&RECORD_WITH_RESOURCE_NUMBER, rest)) => {
            let stored: StoredRecord<LogRecord, Scope> = postcard::from_bytes(rest)
                .map_err(|error| format!("undecodable record: {error}"))?;
            let Some(found) = resource(stored.resource) else {
                return Err(format!(
                    "resource {} is not in the index's resource table",
                    stored.resource
                ));
            };
            Ok(LogRow {
                record: stored.record,
                resource: found,
                scope: Arc::new(stored.scope),
            })
        }
        Some((version, _)) => Err(format!("unknown record format version {version}")),
        None => Err("empty record".to_string()),
    }
}

/// Attributes as a JSON object whose leaves are text (see [`flatten_attributes`]).
fn json_object(attributes: &[KeyValue]) -> BTreeMap<String, OwnedValue> {
    attributes
        .iter()
        .filter_map(|kv| json_value(&kv.value).map(|value| (kv.key.clone(), value)))
        .collect()
}

fn json_value(value: &AnyValue) -> Option<OwnedValue> {
    match value {
        AnyValue::Empty => None,
        AnyValue::Array(items) => Some(OwnedValue::Array(
            items.iter().filter_map(json_value).collect(),
        )),
        AnyValue::KvList(pairs) => Some(OwnedValue::Object(
            pairs
                .iter()
                .filter_map(|kv| json_value(&kv.value).map(|value| (kv.key.clone(), value)))
                .collect(),
        )),
        leaf => Some(OwnedValue::Str(leaf.to_text())),
    }
}

/// Calls `visit(path, text)` for every leaf of the attributes, with the same paths and texts
/// the JSON fields index: nested maps join keys with `.`, array items share their path.
pub fn flatten_attributes(
    attributes: &[KeyValue],
    visit: &mut dyn FnMut(&str, &str) -> bool,
) -> bool {
    attributes
        .iter()
        .any(|kv| flatten_value(&kv.key, &kv.value, visit))
}

fn flatten_value(path: &str, value: &AnyValue, visit: &mut dyn FnMut(&str, &str) -> bool) -> bool {
    match value {
        AnyValue::Empty => false,
        AnyValue::Array(items) => items.iter().any(|item| flatten_value(path, item, visit)),
        AnyValue::KvList(pairs) => pairs
            .iter()
            .any(|kv| flatten_value(&format!("{path}.{}", kv.key), &kv.value, visit)),
        leaf => visit(path, &leaf.to_text()),
    }
}
