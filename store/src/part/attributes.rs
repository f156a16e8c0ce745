//! Attribute columns: a part keeps each common span attribute (a key with a value of one kind:
//! string, int, double or bool) in a typed column of its own, named
//! `attributes.{kind}.{key}`, dictionary-encoded and compressed column by column, where a
//! postcard list of every attribute per row compressed about half as well (measured on the
//! load generator's spans: 32 bytes per span). What no column holds (rare keys, bytes, arrays,
//! maps, empty values, a key repeated in one span) stays in the `attributes` column, encoded as
//! before.
//!
//! The `attribute_layout` column keeps each row's attributes in their order: for each one, the
//! column that holds it or "the next of the encoded rest". Layouts repeat across spans of the
//! same kind, so its dictionary holds a few values per row group. A row with a null layout (or
//! a batch without the column: parts written before attribute columns) has every attribute in
//! `attributes`. The head builds its batches this way as spans arrive ([`shred`]).
//!
//! Columns are found by name, so batches read with a projection, and parts with different
//! attribute columns, are read alike; compaction's output has the union of its inputs' columns
//! (at most [`MAX_COLUMNS`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use ahash::AHashMap;

use arrow_array::builder::{ArrayBuilder, StringBuilder};
use arrow_array::builder::{BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use sightline_model::hot::{column_name, HOT_SPAN_ATTRIBUTES};
use sightline_model::{AnyValue, KeyValue};

use crate::error::Error;

/// Prefix of attribute column names.
pub const COLUMN_PREFIX: &str = "attributes.";
/// The column of each row's attribute order.
pub const LAYOUT: &str = "attribute_layout";
/// The column of the attributes no attribute column holds (postcard list of key/values).
pub const REST: &str = "attributes";
/// Most attribute columns in one part.
pub const MAX_COLUMNS: usize = 128;
/// A (key, kind) becomes a column when at least this share of a flushed part's spans has it.
const MIN_SHARE_PER_MILLE: usize = 5;

/// The kind of value an attribute column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ValueKind {
    /// UTF-8 strings.
    String,
    /// Signed 64-bit integers.
    Int,
    /// 64-bit floats.
    Double,
    /// Booleans.
    Bool,
}

impl ValueKind {
    fn of(value: &AnyValue) -> Option<Self> {
        match value {
            AnyValue::String(_) => Some(Self::String),
            AnyValue::Int(_) => Some(Self::Int),
            AnyValue::Double(_) => Some(Self::Double),
            AnyValue::Bool(_) => Some(Self::Bool),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Double => "double",
            Self::Bool => "bool",
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Self::String => DataType::Utf8,
            Self::Int => DataType::Int64,
            Self::Double => DataType::Float64,
            Self::Bool => DataType::Boolean,
        }
    }
}

/// One attribute column: the key and the kind of value it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttributeColumn {
    /// The attribute key.
    pub key: String,
    /// The kind of its values.
    pub kind: ValueKind,
}

impl AttributeColumn {
    /// The column's name: `attributes.{kind}.{key}`.
    pub fn name(&self) -> String {
        format!("{COLUMN_PREFIX}{}.{}", self.kind.name(), self.key)
    }

    /// Reads a column name written by [`AttributeColumn::name`].
    pub fn parse(name: &str) -> Option<Self> {
        parse_name(name).map(|(key, kind)| Self {
            key: key.to_string(),
            kind,
        })
    }

    /// The column's Arrow field.
    pub fn field(&self) -> Field {
        Field::new(self.name(), self.kind.data_type(), true)
    }
}

/// Reads (key, kind) from a column name written by [`AttributeColumn::name`], borrowing it.
fn parse_name(name: &str) -> Option<(&str, ValueKind)> {
    let (kind, key) = name.strip_prefix(COLUMN_PREFIX)?.split_once('.')?;
    let kind = [
        ValueKind::String,
        ValueKind::Int,
        ValueKind::Double,
        ValueKind::Bool,
    ]
    .into_iter()
    .find(|candidate| candidate.name() == kind)?;
    Some((key, kind))
}

/// The attribute columns of a batch: (key, kind, values), in schema order.
pub fn attribute_arrays(batch: &RecordBatch) -> impl Iterator<Item = (&str, ValueKind, &ArrayRef)> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter_map(|(field, values)| {
            parse_name(field.name()).map(|(key, kind)| (key, kind, values))
        })
}

/// Returns the attribute columns of a schema, in schema order.
pub fn columns_of(schema: &Schema) -> Vec<AttributeColumn> {
    schema
        .fields()
        .iter()
        .filter_map(|field| AttributeColumn::parse(field.name()))
        .collect()
}

/// Postcard's encoding of an empty list.
const EMPTY_LIST: [u8; 1] = [0];

/// One entry of a row's layout: the attribute's column, or `None` for the next attribute of
/// the encoded rest.
type LayoutEntry = Option<AttributeColumn>;

/// Picks the columns for a flushed batch's attribute lists: every (key, kind) that at least
/// half a percent of the rows have, most common first, at most [`MAX_COLUMNS`].
pub fn choose<A: AsRef<[KeyValue]>>(attributes: &[A]) -> Vec<AttributeColumn> {
    let mut counts: AHashMap<(&str, ValueKind), usize> = AHashMap::new();
    for row in attributes {
        for attribute in row.as_ref() {
            if let Some(kind) = ValueKind::of(&attribute.value) {
                *counts.entry((attribute.key.as_str(), kind)).or_default() += 1;
            }
        }
    }
    let least = (attributes.len() * MIN_SHARE_PER_MILLE / 1000).max(1);
    let mut common: Vec<((&str, ValueKind), usize)> = counts
        .into_iter()
        .filter(|(_, count)| *count >= least)
        .collect();
    common.sort_by(|(a, a_count), (b, b_count)| b_count.cmp(a_count).then(a.cmp(b)));
    let mut chosen: Vec<AttributeColumn> = common
        .into_iter()
        .take(MAX_COLUMNS)
        .map(|((key, kind), _)| AttributeColumn {
            key: key.to_string(),
            kind,
        })
        .collect();
    chosen.sort();
    chosen
}

/// The union of several batches' or parts' attribute columns, each given with the number of
/// rows it holds a value in (or an estimate): sorted, at most [`MAX_COLUMNS`] (those of the
/// most rows are kept).
pub fn union(columns: impl IntoIterator<Item = (AttributeColumn, usize)>) -> Vec<AttributeColumn> {
    let mut rows_by_column: HashMap<AttributeColumn, usize> = HashMap::new();
    for (column, rows) in columns {
        *rows_by_column.entry(column).or_default() += rows;
    }
    let mut all: Vec<(AttributeColumn, usize)> = rows_by_column.into_iter().collect();
    all.sort_by(|(a, a_rows), (b, b_rows)| b_rows.cmp(a_rows).then(a.cmp(b)));
    let mut kept: Vec<AttributeColumn> = all
        .into_iter()
        .take(MAX_COLUMNS)
        .map(|(column, _)| column)
        .collect();
    kept.sort();
    kept
}

/// Concatenates batches of the part schema with different attribute columns into one with
/// their [`union`], weighed by the values each column holds.
///
/// # Errors
/// [`Error::Arrow`] or [`Error::Corrupt`] as [`reshape`].
pub fn concat(batches: &[RecordBatch], path: &str) -> Result<RecordBatch, Error> {
    let columns = union(batches.iter().flat_map(|batch| {
        attribute_arrays(batch).map(|(key, kind, values)| {
            let column = AttributeColumn {
                key: key.to_string(),
                kind,
            };
            (column, values.len() - values.null_count())
        })
    }));
    let reshaped: Vec<RecordBatch> = batches
        .iter()
        .map(|batch| reshape(batch, &columns, path))
        .collect::<Result<_, _>>()?;
    arrow_select::concat::concat_batches(&part_schema(&columns), &reshaped).map_err(|source| {
        Error::Arrow {
            what: format!("concatenating {path}"),
            source,
        }
    })
}

/// The hot attribute text columns (see [`sightline_model::hot`]) of rows whose attributes are
/// split into `columns`: the text of each hot key's first value, null where the key is
/// absent or where an attribute column holds that first value (a reader takes it from there:
/// see [`TypedExpected`]), so a value is not stored twice.
pub fn hot_columns<A: AsRef<[KeyValue]>>(
    attributes: &[A],
    columns: &[AttributeColumn],
) -> Vec<ArrayRef> {
    let held: ahash::AHashSet<(&str, ValueKind)> = columns
        .iter()
        .map(|column| (column.key.as_str(), column.kind))
        .collect();
    HOT_SPAN_ATTRIBUTES
        .iter()
        .map(|key| {
            let mut texts = StringBuilder::with_capacity(attributes.len(), 0);
            for row in attributes {
                let first = row.as_ref().iter().find(|attribute| attribute.key == *key);
                match first {
                    Some(attribute)
                        if !ValueKind::of(&attribute.value)
                            .is_some_and(|kind| held.contains(&(*key, kind))) =>
                    {
                        texts.append_value(attribute.value.as_text())
                    }
                    _ => texts.append_null(),
                }
            }
            Arc::new(texts.finish()) as ArrayRef
        })
        .collect()
}

/// A searched text as a value of an attribute column's kind, parsed once per column: a value
/// matches when [`AnyValue::to_text`] would render it as the text.
pub enum TypedExpected<'a> {
    /// A string column: the text itself.
    String(&'a str),
    /// An int column: the number the text is the rendering of, if any.
    Int(Option<i64>),
    /// A double column: compared as text (floats have more than one rendering to parse).
    Double(&'a str),
    /// A bool column: `true` or `false`, if the text is one.
    Bool(Option<bool>),
}

impl<'a> TypedExpected<'a> {
    /// Reads `expected` for a column of `kind`.
    pub fn new(kind: ValueKind, expected: &'a str) -> Self {
        match kind {
            ValueKind::String => Self::String(expected),
            ValueKind::Int => Self::Int(
                expected
                    .parse::<i64>()
                    .ok()
                    .filter(|number| number.to_string() == expected),
            ),
            ValueKind::Double => Self::Double(expected),
            ValueKind::Bool => Self::Bool(match expected {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }),
        }
    }

    /// Says whether row `row` of `array` (a column of this kind) matches; a null does not.
    pub fn matches(&self, array: &ArrayRef, row: usize) -> bool {
        if array.is_null(row) {
            return false;
        }
        match self {
            Self::String(expected) => array
                .as_string_opt::<i32>()
                .is_some_and(|values| values.value(row) == *expected),
            Self::Int(expected) => array
                .as_primitive_opt::<Int64Type>()
                .is_some_and(|values| Some(values.value(row)) == *expected),
            Self::Double(expected) => array
                .as_primitive_opt::<Float64Type>()
                .is_some_and(|values| AnyValue::Double(values.value(row)).to_text() == *expected),
            Self::Bool(expected) => array
                .as_boolean_opt()
                .is_some_and(|values| Some(values.value(row)) == *expected),
        }
    }
}

/// The layout column, the encoded rest, the attribute columns and the hot attribute text
/// columns of some rows.
pub struct Shredded {
    /// [`LAYOUT`].
    pub layout: ArrayRef,
    /// [`REST`].
    pub rest: ArrayRef,
    /// The attribute columns, in the order asked for.
    pub columns: Vec<ArrayRef>,
    /// The hot attribute text columns, in [`HOT_SPAN_ATTRIBUTES`] order (see [`hot_columns`]).
    pub hot: Vec<ArrayRef>,
}

/// A builder for one attribute column.
enum ColumnBuilder {
    String(StringBuilder),
    Int(Int64Builder),
    Double(Float64Builder),
    Bool(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(kind: ValueKind, rows: usize) -> Self {
        match kind {
            ValueKind::String => Self::String(StringBuilder::with_capacity(rows, rows * 8)),
            ValueKind::Int => Self::Int(Int64Builder::with_capacity(rows)),
            ValueKind::Double => Self::Double(Float64Builder::with_capacity(rows)),
            ValueKind::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
        }
    }

    /// Appends `value` if it has the column's kind; returns whether it did.
    fn append(&mut self, value: &AnyValue) -> bool {
        match (self, value) {
            (Self::String(builder), AnyValue::String(text)) => builder.append_value(text),
            (Self::Int(builder), AnyValue::Int(number)) => builder.append_value(*number),
            (Self::Double(builder), AnyValue::Double(number)) => builder.append_value(*number),
            (Self::Bool(builder), AnyValue::Bool(flag)) => builder.append_value(*flag),
            _ => return false,
        }
        true
    }

    fn append_null(&mut self) {
        match self {
            Self::String(builder) => builder.append_null(),
            Self::Int(builder) => builder.append_null(),
            Self::Double(builder) => builder.append_null(),
            Self::Bool(builder) => builder.append_null(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::String(builder) => builder.len(),
            Self::Int(builder) => builder.len(),
            Self::Double(builder) => builder.len(),
            Self::Bool(builder) => builder.len(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::String(builder) => Arc::new(builder.finish()),
            Self::Int(builder) => Arc::new(builder.finish()),
            Self::Double(builder) => Arc::new(builder.finish()),
            Self::Bool(builder) => Arc::new(builder.finish()),
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Postcard only fails on a full fixed buffer, and `to_allocvec` grows its own.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Splits rows' attribute lists into `columns`, the layout and the encoded rest (and their hot
/// attribute text columns). A row whose attributes all go to the rest gets a null layout.
pub fn shred<A: AsRef<[KeyValue]>>(attributes: &[A], columns: &[AttributeColumn]) -> Shredded {
    let rows = attributes.len();
    let index: AHashMap<(&str, ValueKind), usize> = columns
        .iter()
        .enumerate()
        .map(|(position, column)| ((column.key.as_str(), column.kind), position))
        .collect();
    let mut builders: Vec<ColumnBuilder> = columns
        .iter()
        .map(|column| ColumnBuilder::new(column.kind, rows))
        .collect();
    let mut layouts = BinaryBuilder::with_capacity(rows, rows * 4);
    let mut rest_column = BinaryBuilder::with_capacity(rows, rows * 4);
    let mut layout_cache: AHashMap<Vec<Option<usize>>, Vec<u8>> = AHashMap::new();
    for (row, row_attributes) in attributes.iter().enumerate() {
        let row_attributes = row_attributes.as_ref();
        let mut positions: Vec<Option<usize>> = Vec::with_capacity(row_attributes.len());
        let mut rest: Vec<&KeyValue> = Vec::new();
        for attribute in row_attributes {
            let column = ValueKind::of(&attribute.value)
                .and_then(|kind| index.get(&(attribute.key.as_str(), kind)).copied())
                // A key repeated in one span: the column holds its first value.
                .filter(|position| builders[*position].len() == row);
            match column {
                Some(position) if builders[position].append(&attribute.value) => {
                    positions.push(Some(position));
                }
                _ => {
                    positions.push(None);
                    rest.push(attribute);
                }
            }
        }
        for builder in builders.iter_mut().filter(|builder| builder.len() == row) {
            builder.append_null();
        }
        if positions.iter().all(Option::is_none) {
            layouts.append_null();
        } else {
            let bytes = layout_cache
                .entry(positions)
                .or_insert_with_key(|positions| {
                    let entries: Vec<Option<&AttributeColumn>> = positions
                        .iter()
                        .map(|position| position.map(|position| &columns[position]))
                        .collect();
                    encode(&entries)
                });
            layouts.append_value(bytes);
        }
        if rest.is_empty() {
            rest_column.append_value(EMPTY_LIST);
        } else {
            rest_column.append_value(encode(&rest));
        }
    }
    Shredded {
        layout: Arc::new(layouts.finish()),
        rest: Arc::new(rest_column.finish()),
        columns: builders.iter_mut().map(ColumnBuilder::finish).collect(),
        hot: hot_columns(attributes, columns),
    }
}

/// Reads rows' attributes back from a batch: the layout, the encoded rest and whichever
/// attribute columns the batch holds (a layout naming a column the batch lacks is an error
/// for [`AttributeReader::attributes`]; [`AttributeReader::find`] needs only the columns of
/// the key it looks for).
pub struct AttributeReader<'a> {
    layout: Option<&'a BinaryArray>,
    rest: &'a BinaryArray,
    columns: AHashMap<(&'a str, ValueKind), &'a ArrayRef>,
    parsed: RefCell<HashMap<&'a [u8], Arc<Vec<LayoutEntry>>>>,
    path: &'a str,
}

impl<'a> AttributeReader<'a> {
    /// Reads the attributes of `batch`, read from the part at `path` (for error messages).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the batch has no [`REST`] column or a mistyped layout.
    pub fn new(batch: &'a RecordBatch, path: &'a str) -> Result<Self, Error> {
        let binary = |name: &str| -> Result<Option<&'a BinaryArray>, Error> {
            batch
                .column_by_name(name)
                .map(|column| {
                    column.as_binary_opt::<i32>().ok_or_else(|| Error::Corrupt {
                        what: "span part column",
                        path: path.to_string(),
                        reason: format!("{name} is not binary"),
                    })
                })
                .transpose()
        };
        let rest = binary(REST)?.ok_or_else(|| Error::Corrupt {
            what: "span part column",
            path: path.to_string(),
            reason: format!("missing column {REST}"),
        })?;
        let columns = attribute_arrays(batch)
            .map(|(key, kind, values)| ((key, kind), values))
            .collect();
        Ok(Self {
            layout: binary(LAYOUT)?,
            rest,
            columns,
            parsed: RefCell::new(HashMap::new()),
            path,
        })
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::Corrupt {
            what: "span attributes",
            path: self.path.to_string(),
            reason,
        }
    }

    fn rest(&self, row: usize) -> Result<Vec<KeyValue>, Error> {
        postcard::from_bytes(self.rest.value(row))
            .map_err(|error| self.corrupt(format!("attributes: {error}")))
    }

    /// The layout of a row, `None` when every attribute is in the rest.
    fn layout(&self, row: usize) -> Result<Option<Arc<Vec<LayoutEntry>>>, Error> {
        let Some(layout) = self.layout.filter(|layout| !layout.is_null(row)) else {
            return Ok(None);
        };
        let bytes = layout.value(row);
        if let Some(parsed) = self.parsed.borrow().get(bytes) {
            return Ok(Some(parsed.clone()));
        }
        let parsed: Arc<Vec<LayoutEntry>> = Arc::new(
            postcard::from_bytes(bytes)
                .map_err(|error| self.corrupt(format!("attribute layout: {error}")))?,
        );
        self.parsed.borrow_mut().insert(bytes, parsed.clone());
        Ok(Some(parsed))
    }

    fn value(&self, column: &AttributeColumn, row: usize) -> Result<AnyValue, Error> {
        let name = || column.name();
        let array = self
            .columns
            .get(&(column.key.as_str(), column.kind))
            .ok_or_else(|| {
                self.corrupt(format!("the layout names {}, which is missing", name()))
            })?;
        if array.is_null(row) {
            return Err(self.corrupt(format!("{} has no value where its layout says", name())));
        }
        let value = match column.kind {
            ValueKind::String => array
                .as_string_opt::<i32>()
                .map(|values| AnyValue::String(values.value(row).to_string())),
            ValueKind::Int => array
                .as_primitive_opt::<Int64Type>()
                .map(|values| AnyValue::Int(values.value(row))),
            ValueKind::Double => array
                .as_primitive_opt::<Float64Type>()
                .map(|values| AnyValue::Double(values.value(row))),
            ValueKind::Bool => array
                .as_boolean_opt()
                .map(|values| AnyValue::Bool(values.value(row))),
        };
        value.ok_or_else(|| self.corrupt(format!("{} is not of its kind", name())))
    }

    /// Returns a row's attributes, in the order they were received.
    ///
    /// # Errors
    /// [`Error::Corrupt`] on undecodable bytes or a layout that does not fit the columns.
    pub fn attributes(&self, row: usize) -> Result<Vec<KeyValue>, Error> {
        let rest = self.rest(row)?;
        let Some(layout) = self.layout(row)? else {
            return Ok(rest);
        };
        let mut rest = rest.into_iter();
        let mut attributes = Vec::with_capacity(layout.len());
        for entry in layout.iter() {
            attributes.push(match entry {
                Some(column) => KeyValue::new(column.key.clone(), self.value(column, row)?),
                None => rest
                    .next()
                    .ok_or_else(|| self.corrupt("the layout outruns the rest".to_string()))?,
            });
        }
        Ok(attributes)
    }

    /// Returns the value of a row's first attribute with `key`, as
    /// [`sightline_model::attr::find`] on [`AttributeReader::attributes`] would.
    ///
    /// # Errors
    /// As [`AttributeReader::attributes`].
    pub fn find(&self, row: usize, key: &str) -> Result<Option<AnyValue>, Error> {
        let Some(layout) = self.layout(row)? else {
            return Ok(sightline_model::attr::find(&self.rest(row)?, key).cloned());
        };
        let mut rest_index = 0;
        let mut rest: Option<Vec<KeyValue>> = None;
        for entry in layout.iter() {
            match entry {
                Some(column) if column.key == key => return self.value(column, row).map(Some),
                Some(_) => {}
                None => {
                    if rest.is_none() {
                        rest = Some(self.rest(row)?);
                    }
                    let attribute = rest
                        .as_ref()
                        .and_then(|rest| rest.get(rest_index))
                        .ok_or_else(|| self.corrupt("the layout outruns the rest".to_string()))?;
                    if attribute.key == key {
                        return Ok(Some(attribute.value.clone()));
                    }
                    rest_index += 1;
                }
            }
        }
        Ok(None)
    }
}

/// Returns a batch's rows' attributes.
///
/// # Errors
/// As [`AttributeReader::attributes`].
pub fn read_all(batch: &RecordBatch, path: &str) -> Result<Vec<Vec<KeyValue>>, Error> {
    let reader = AttributeReader::new(batch, path)?;
    (0..batch.num_rows())
        .map(|row| reader.attributes(row))
        .collect()
}

/// The schema of a part with `columns`: [`super::schema::span_schema`], the layout and the
/// attribute columns.
pub fn part_schema(columns: &[AttributeColumn]) -> SchemaRef {
    let base = super::schema::span_schema();
    let mut fields: Vec<Field> = base
        .fields()
        .iter()
        .map(|field| field.as_ref().clone())
        .collect();
    fields.push(Field::new(LAYOUT, DataType::Binary, true));
    fields.extend(columns.iter().map(AttributeColumn::field));
    Arc::new(Schema::new(fields))
}

/// Rewrites a span batch (from the head, or a part of any format) with the schema of a part
/// with `columns` ([`part_schema`]). A batch with a layout whose columns are all among
/// `columns` keeps its values as they are (columns it lacks are null); any other has its rows'
/// attributes read and split again.
///
/// # Errors
/// [`Error::Corrupt`] on a batch without the span columns or with undecodable attributes.
pub fn reshape(
    batch: &RecordBatch,
    columns: &[AttributeColumn],
    path: &str,
) -> Result<RecordBatch, Error> {
    let present = columns_of(batch.schema_ref());
    let layout = batch
        .column_by_name(LAYOUT)
        .filter(|_| present.iter().all(|column| columns.contains(column)));
    if let Some(layout) = layout {
        let mut arrays = base_columns(batch, path)?;
        arrays.push(layout.clone());
        for column in columns {
            arrays.push(match batch.column_by_name(&column.name()) {
                Some(array) => array.clone(),
                None => arrow_array::new_null_array(&column.kind.data_type(), batch.num_rows()),
            });
        }
        return assemble(arrays, columns, path);
    }
    let attributes = read_all(batch, path)?;
    with_shredded(batch, &shred(&attributes, columns), columns, path)
}

/// A part batch: `batch`'s span columns with `shredded`'s layout, rest and attribute columns.
///
/// # Errors
/// [`Error::Corrupt`] on a batch without the span columns.
pub fn with_shredded(
    batch: &RecordBatch,
    shredded: &Shredded,
    columns: &[AttributeColumn],
    path: &str,
) -> Result<RecordBatch, Error> {
    let base = super::schema::span_schema();
    let mut arrays = base_columns(batch, path)?;
    if let Ok(rest) = base.index_of(REST) {
        arrays[rest] = shredded.rest.clone();
    }
    for (key, texts) in HOT_SPAN_ATTRIBUTES.iter().zip(&shredded.hot) {
        if let Ok(index) = base.index_of(&column_name(key)) {
            arrays[index] = texts.clone();
        }
    }
    arrays.push(shredded.layout.clone());
    arrays.extend(shredded.columns.iter().cloned());
    assemble(arrays, columns, path)
}

/// `batch`'s columns of [`super::schema::span_schema`], in its order (parent offsets, which
/// parts before format 4 lack, null).
fn base_columns(batch: &RecordBatch, path: &str) -> Result<Vec<ArrayRef>, Error> {
    super::schema::span_schema()
        .fields()
        .iter()
        .map(|field| {
            let missing_offsets = (field.name() == super::parents::PARENT_OFFSET)
                .then(|| arrow_array::new_null_array(field.data_type(), batch.num_rows()));
            batch
                .column_by_name(field.name())
                .cloned()
                .or(missing_offsets)
                .ok_or_else(|| Error::Corrupt {
                    what: "span part column",
                    path: path.to_string(),
                    reason: format!("missing column {}", field.name()),
                })
        })
        .collect()
}

fn assemble(
    arrays: Vec<ArrayRef>,
    columns: &[AttributeColumn],
    path: &str,
) -> Result<RecordBatch, Error> {
    RecordBatch::try_new(part_schema(columns), arrays).map_err(|source| Error::Arrow {
        what: format!("attribute columns of {path}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue::new(key, value)
    }

    /// Rows with common keys of every kind, a key rare enough to stay in the rest, values no
    /// column holds, a key repeated in one span and a key whose kind changes between spans.
    fn sample_rows() -> Vec<Vec<KeyValue>> {
        (0..400i64)
            .map(|row| {
                let mut attributes = vec![
                    kv("http.route", AnyValue::String(format!("/r/{}", row % 3))),
                    kv("count", AnyValue::Int(row)),
                    kv("ratio", AnyValue::Double(row as f64 / 7.0)),
                    kv("ok", AnyValue::Bool(row % 2 == 0)),
                    kv("blob", AnyValue::Bytes(vec![row as u8])),
                ];
                if row == 7 {
                    attributes.insert(0, kv("rare", AnyValue::String("once".into())));
                    attributes.push(kv("count", AnyValue::Int(-1)));
                    attributes.push(kv(
                        "list",
                        AnyValue::Array(vec![AnyValue::Empty, AnyValue::Bool(true)]),
                    ));
                }
                if row == 9 {
                    // The first "mixed" is in the rest (bytes), the second in a column.
                    attributes.push(kv("mixed", AnyValue::Bytes(vec![1])));
                    attributes.push(kv("mixed", AnyValue::String("second".into())));
                }
                if row % 2 == 1 {
                    attributes.push(kv("mixed", AnyValue::String(format!("s{row}"))));
                } else {
                    attributes.push(kv("mixed", AnyValue::Int(row)));
                }
                attributes
            })
            .collect()
    }

    #[test]
    fn common_attributes_get_columns_and_every_row_reads_back_in_order() {
        let rows = sample_rows();
        let columns = choose(&rows);
        let names: Vec<String> = columns.iter().map(AttributeColumn::name).collect();
        assert_eq!(
            names,
            [
                "attributes.int.count",
                "attributes.string.http.route",
                "attributes.string.mixed",
                "attributes.int.mixed",
                "attributes.bool.ok",
                "attributes.double.ratio",
            ]
        );
        let batch = part_batch(&rows, &columns);
        assert_eq!(read_all(&batch, "test").unwrap(), rows);
        // Only the rows with something no column holds carry more than an empty rest.
        let rest = batch.column_by_name(REST).unwrap().as_binary::<i32>();
        let empty = encode(&Vec::<KeyValue>::new());
        assert!(rest.value(0) != empty.as_slice()); // bytes
        let reader = AttributeReader::new(&batch, "test").unwrap();
        assert_eq!(
            reader.find(9, "mixed").unwrap(),
            Some(AnyValue::Bytes(vec![1]))
        );
        assert_eq!(reader.find(7, "count").unwrap(), Some(AnyValue::Int(7)));
        assert_eq!(
            reader.find(7, "rare").unwrap(),
            Some(AnyValue::String("once".into()))
        );
        assert_eq!(reader.find(8, "mixed").unwrap(), Some(AnyValue::Int(8)));
        assert_eq!(reader.find(8, "absent").unwrap(), None);
    }

    /// A batch as the head holds it: the columns it picks for the rows.
    fn head_batch(rows: &[Vec<KeyValue>]) -> RecordBatch {
        let spans: Vec<sightline_model::SpanRow> = rows
            .iter()
            .map(|attributes| sightline_model::SpanRow {
                service_name: Arc::from("svc"),
                resource: Arc::default(),
                scope: Arc::default(),
                span: sightline_model::Span {
                    attributes: attributes.clone(),
                    ..sightline_model::Span::default()
                },
            })
            .collect();
        super::super::schema::rows_to_batch(&spans).unwrap()
    }

    /// A batch of the spans with the given attributes in `columns`.
    fn part_batch(rows: &[Vec<KeyValue>], columns: &[AttributeColumn]) -> RecordBatch {
        with_shredded(&head_batch(rows), &shred(rows, columns), columns, "test").unwrap()
    }

    /// A batch as parts before attribute columns held it: every attribute encoded, no layout.
    fn format_2_batch(rows: &[Vec<KeyValue>]) -> RecordBatch {
        let batch = part_batch(rows, &[]);
        let schema = batch.schema();
        let without_layout: Vec<usize> = (0..schema.fields().len())
            .filter(|index| schema.field(*index).name() != LAYOUT)
            .collect();
        batch.project(&without_layout).unwrap()
    }

    #[test]
    fn a_batch_is_reshaped_to_more_or_fewer_columns_without_losing_a_value() {
        let rows = sample_rows();
        let columns = choose(&rows);
        let batch = part_batch(&rows, &columns);
        let mut more = columns.clone();
        more.push(AttributeColumn {
            key: "zzz".into(),
            kind: ValueKind::Int,
        });
        more.sort();
        let fewer: Vec<AttributeColumn> = columns
            .iter()
            .filter(|column| column.key != "count")
            .cloned()
            .collect();
        for target in [&more, &fewer, &Vec::new()] {
            let reshaped = reshape(&batch, target, "test").unwrap();
            assert_eq!(columns_of(reshaped.schema_ref()), *target);
            assert_eq!(read_all(&reshaped, "test").unwrap(), rows);
        }
        // A batch with more columns keeps its values as they are: the layout is the same.
        let reshaped = reshape(&batch, &more, "test").unwrap();
        assert_eq!(
            reshaped.column_by_name(LAYOUT).unwrap().as_ref(),
            batch.column_by_name(LAYOUT).unwrap().as_ref()
        );
        // A batch without a layout is split into columns.
        let old = format_2_batch(&rows);
        assert!(columns_of(old.schema_ref()).is_empty());
        let split = reshape(&old, &columns, "test").unwrap();
        assert_eq!(read_all(&split, "test").unwrap(), rows);
        assert_eq!(
            split
                .column_by_name("attributes.int.count")
                .unwrap()
                .null_count(),
            0
        );
        // Head batches with different columns concatenate into their union.
        let halves = [head_batch(&rows[..200]), head_batch(&rows[200..])];
        let whole = concat(&halves, "test").unwrap();
        assert_eq!(read_all(&whole, "test").unwrap(), rows);
        let union = columns_of(whole.schema_ref());
        assert!(columns.iter().all(|column| union.contains(column)));
    }

    #[test]
    fn columns_are_chosen_by_share_and_capped() {
        let mut rows: Vec<Vec<KeyValue>> = (0..1000)
            .map(|row| {
                (0..MAX_COLUMNS + 10)
                    .map(|key| kv(&format!("k{key:03}"), AnyValue::Int(row)))
                    .collect()
            })
            .collect();
        rows[0].push(kv("rare", AnyValue::Int(1)));
        let chosen = choose(&rows);
        assert_eq!(chosen.len(), MAX_COLUMNS);
        assert!(chosen.iter().all(|column| column.key != "rare"));
        let few = choose(&[vec![kv("rare", AnyValue::Int(1))], Vec::new()]);
        assert_eq!(few.len(), 1);
        assert_eq!(
            AttributeColumn::parse("attributes.double.a.b.c"),
            Some(AttributeColumn {
                key: "a.b.c".into(),
                kind: ValueKind::Double
            })
        );
        assert_eq!(AttributeColumn::parse("attributes.float.a"), None);
    }

    #[test]
    fn a_union_over_the_cap_keeps_the_columns_of_the_most_values() {
        let column = |index: usize| AttributeColumn {
            key: format!("k{index:03}"),
            kind: ValueKind::Int,
        };
        // Column 0 is in many sources with few values each; together they are the most.
        let mut sources: Vec<(AttributeColumn, usize)> = (1..MAX_COLUMNS + 2)
            .map(|index| (column(index), index))
            .collect();
        sources.extend((0..1000).map(|_| (column(0), 1)));
        let kept = union(sources);
        assert_eq!(kept.len(), MAX_COLUMNS);
        assert!(kept.contains(&column(0)));
        assert!(!kept.contains(&column(1)) && !kept.contains(&column(2)));
        assert!(kept.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
