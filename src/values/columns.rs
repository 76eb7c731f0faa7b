//! Arrow builders fed with parsed [`Value`]s, one per target column.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};

use super::Value;

/// An Arrow builder for one column's carrier type.
pub enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder, Option<Arc<str>>),
    Uuid(FixedSizeBinaryBuilder),
}

impl ColumnBuilder {
    /// A builder for `data_type` (one of the carrier types of [`crate::postgres::types::PgKind`]).
    pub fn new(data_type: &DataType, capacity: usize) -> Self {
        match data_type {
            DataType::Boolean => Self::Bool(BooleanBuilder::with_capacity(capacity)),
            DataType::Int16 => Self::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => Self::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => Self::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => Self::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => Self::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Decimal128(p, s) => {
                Self::Decimal(Decimal128Builder::with_capacity(capacity), *p, *s)
            }
            DataType::Binary => Self::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Date32 => Self::Date(Date32Builder::with_capacity(capacity)),
            DataType::Time64(TimeUnit::Microsecond) => {
                Self::Time(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                tz.clone(),
            ),
            DataType::FixedSizeBinary(16) => {
                Self::Uuid(FixedSizeBinaryBuilder::with_capacity(capacity, 16))
            }
            _ => Self::Utf8(StringBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    /// Append one value; `text` and `bytes` are the buffers its ranges point into.
    pub fn append(&mut self, value: &Value, text: &[u8], bytes: &[u8]) {
        match (self, value) {
            (Self::Bool(b), Value::Bool(v)) => b.append_value(*v),
            (Self::Int16(b), Value::Int(v)) => b.append_value(*v as i16),
            (Self::Int32(b), Value::Int(v)) => b.append_value(*v as i32),
            (Self::Int64(b), Value::Int(v)) => b.append_value(*v),
            (Self::Float32(b), Value::Float(v)) => b.append_value(*v as f32),
            (Self::Float64(b), Value::Float(v)) => b.append_value(*v),
            (Self::Decimal(b, ..), Value::Decimal(v)) => b.append_value(*v),
            (Self::Utf8(b), Value::Text(r)) => {
                // Checked to be UTF-8 when parsed.
                b.append_value(std::str::from_utf8(&text[r.clone()]).unwrap_or_default())
            }
            (Self::Binary(b), Value::Bytes(r)) => b.append_value(&bytes[r.clone()]),
            (Self::Date(b), Value::Date(v)) => b.append_value(*v),
            (Self::Time(b), Value::Micros(v)) => b.append_value(*v),
            (Self::Timestamp(b, _), Value::Micros(v)) => b.append_value(*v),
            (Self::Uuid(b), Value::Uuid(v)) => b.append_value(v).expect("16 bytes"),
            (this, _) => this.append_null(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Bool(b) => b.append_null(),
            Self::Int16(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Decimal(b, ..) => b.append_null(),
            Self::Utf8(b) => b.append_null(),
            Self::Binary(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Timestamp(b, _) => b.append_null(),
            Self::Uuid(b) => b.append_null(),
        }
    }

    /// The number of values appended since the last [`ColumnBuilder::finish`].
    pub fn len(&self) -> usize {
        use arrow::array::ArrayBuilder;
        match self {
            Self::Bool(b) => b.len(),
            Self::Int16(b) => b.len(),
            Self::Int32(b) => b.len(),
            Self::Int64(b) => b.len(),
            Self::Float32(b) => b.len(),
            Self::Float64(b) => b.len(),
            Self::Decimal(b, ..) => b.len(),
            Self::Utf8(b) => b.len(),
            Self::Binary(b) => b.len(),
            Self::Date(b) => b.len(),
            Self::Time(b) => b.len(),
            Self::Timestamp(b, _) => b.len(),
            Self::Uuid(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column built so far; the builder starts empty again.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("precision checked by the type table"),
            ),
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Binary(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Timestamp(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
            Self::Uuid(b) => Arc::new(b.finish()),
        }
    }
}
