//! Binary COPY -> Arrow: the rows of `COPY (SELECT ..) TO STDOUT (FORMAT binary)` decoded
//! column by column into builders of a read's exact Arrow schema (see [`super::types`]).
//!
//! Each column is selected in a form whose binary encoding is decoded here (a kind without
//! an exact Arrow form is selected as its type's text output): integers, floats and
//! booleans as they are, `numeric(p,s)` from its base-10000 digits straight into
//! Decimal128, dates and timestamps shifted from the 2000-01-01 epoch, text-like values as
//! UTF-8, one-dimensional arrays of all those. A valid value the column's Arrow type cannot
//! carry (NaN, an infinite or distant date, an array of several dimensions or not starting
//! at 1) is refused as irregular, never mangled: read as text, it travels (see
//! [`super::irregular`]). Bytes arrive in whatever pieces the server
//! sends; a row split across pieces waits for the rest, so a builder never holds half a row.

use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{ArrayRef, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::postgres::types::PgKind;
use crate::values::{ColumnBuilder, Value};

/// Binary COPY's 19-byte header: signature, flags, header extension length (0).
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const HEADER_LEN: usize = SIGNATURE.len() + 8;
/// Days and microseconds from the Unix epoch to Postgres's (2000-01-01).
const EPOCH_DAYS: i32 = 10_957;
const EPOCH_MICROS: i64 = 946_684_800_000_000;
/// The first year past what the writers downstream carry (chrono's last); Postgres goes on
/// to year 294276. Its first day in days and microseconds from the Unix epoch.
pub(super) const DISTANT_YEAR: i32 = 262_142;
const DISTANT_DAYS: i32 = 95_025_872;
const DISTANT_MICROS: i64 = DISTANT_DAYS as i64 * 86_400_000_000;

/// Why a value could not be decoded: the column and what was wrong.
#[derive(Debug)]
pub struct DecodeError {
    pub column: String,
    pub reason: String,
    /// The value is valid, but its column's Arrow type cannot carry it (NaN in a
    /// Decimal128, an infinite date, an array of two dimensions): read as text, it can travel.
    pub irregular: bool,
}

/// Why one value was refused.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// Not the binary form expected.
    Malformed(String),
    /// A valid value its Arrow type cannot carry ([`DecodeError::irregular`]).
    Irregular(&'static str),
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Self {
        Refusal::Malformed(reason.to_string())
    }
}

impl From<String> for Refusal {
    fn from(reason: String) -> Self {
        Refusal::Malformed(reason)
    }
}

type Decoded<T> = std::result::Result<T, Refusal>;

/// Turns a binary COPY byte stream into record batches of `schema`.
pub struct CopyDecoder {
    schema: SchemaRef,
    columns: Vec<ColumnDecoder>,
    batch_size: usize,
    rows: usize,
    header_seen: bool,
    finished: bool,
    /// The start of a row whose end has not arrived yet.
    pending: Vec<u8>,
}

impl CopyDecoder {
    /// A decoder for columns of `kinds` (a read's, as selected by [`select_expression`]),
    /// into batches of `schema` of up to `batch_size` rows.
    pub fn new(schema: SchemaRef, kinds: &[PgKind], batch_size: usize) -> Self {
        let columns = schema
            .fields()
            .iter()
            .zip(kinds)
            .map(|(field, kind)| ColumnDecoder::new(kind, field.data_type(), batch_size))
            .collect();
        CopyDecoder {
            schema,
            columns,
            batch_size: batch_size.max(1),
            rows: 0,
            header_seen: false,
            finished: false,
            pending: Vec::new(),
        }
    }

    /// Decode `data`, the next bytes of the stream; every batch that fills is passed to
    /// `emit`.
    pub fn push(
        &mut self,
        data: &[u8],
        emit: &mut impl FnMut(RecordBatch),
    ) -> std::result::Result<(), DecodeError> {
        if self.pending.is_empty() {
            let used = self.decode(data, emit)?;
            self.pending.extend_from_slice(&data[used..]);
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(data);
            let used = self.decode(&joined, emit)?;
            joined.drain(..used);
            self.pending = joined;
        }
        Ok(())
    }

    /// The rows decoded since the last full batch, once the stream has ended.
    pub fn finish(mut self) -> std::result::Result<Option<RecordBatch>, DecodeError> {
        if !self.pending.is_empty() || (self.header_seen && !self.finished) {
            let cut = "the COPY stream ended in the middle of a row";
            return Err(self.error(0, cut.into()));
        }
        if self.rows == 0 {
            return Ok(None);
        }
        self.flush().map(Some)
    }

    /// Decode the whole rows at the start of `data`; returns the bytes used.
    fn decode(
        &mut self,
        data: &[u8],
        emit: &mut impl FnMut(RecordBatch),
    ) -> std::result::Result<usize, DecodeError> {
        let mut at = 0;
        if !self.header_seen {
            if data.len() < HEADER_LEN {
                return Ok(0);
            }
            if !data.starts_with(SIGNATURE) {
                return Err(self.error(0, "not a binary COPY stream".into()));
            }
            let extension = i32::from_be_bytes(data[15..19].try_into().expect("4 bytes"));
            at = HEADER_LEN + extension.max(0) as usize;
            self.header_seen = true;
        }
        while !self.finished {
            let Some(end) = self.row_end(data, at)? else {
                break;
            };
            if read_i16(data, at) == -1 {
                self.finished = true;
                return Ok(end);
            }
            let mut field = at + 2;
            for i in 0..self.columns.len() {
                let len = read_i32(data, field);
                field += 4;
                let column = &mut self.columns[i];
                if len < 0 {
                    column.append_null();
                } else {
                    let value = &data[field..field + len as usize];
                    field += len as usize;
                    if let Err(reason) = column.append(value) {
                        return Err(self.error(i, reason));
                    }
                }
            }
            self.rows += 1;
            at = end;
            if self.rows == self.batch_size {
                emit(self.flush()?);
            }
        }
        Ok(at)
    }

    /// Where the row starting at `at` ends, once all of it is in `data`.
    fn row_end(&self, data: &[u8], at: usize) -> std::result::Result<Option<usize>, DecodeError> {
        if data.len() < at + 2 {
            return Ok(None);
        }
        let fields = read_i16(data, at);
        if fields == -1 {
            return Ok(Some(at + 2));
        }
        if fields as usize != self.columns.len() {
            let reason = format!("a row of {fields} fields, {} expected", self.columns.len());
            return Err(self.error(0, reason.into()));
        }
        let mut end = at + 2;
        for _ in 0..fields {
            if data.len() < end + 4 {
                return Ok(None);
            }
            let len = read_i32(data, end);
            end += 4 + len.max(0) as usize;
        }
        Ok((end <= data.len()).then_some(end))
    }

    fn flush(&mut self) -> std::result::Result<RecordBatch, DecodeError> {
        let columns: Vec<ArrayRef> = self.columns.iter_mut().map(|c| c.finish()).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| self.error(0, e.to_string().into()))
    }

    fn error(&self, column: usize, refusal: Refusal) -> DecodeError {
        let (reason, irregular) = match refusal {
            Refusal::Malformed(reason) => (reason, false),
            Refusal::Irregular(reason) => (reason.to_string(), true),
        };
        DecodeError {
            column: self
                .schema
                .fields()
                .get(column)
                .map(|f| f.name().clone())
                .unwrap_or_default(),
            reason,
            irregular,
        }
    }
}

/// How column `quoted` (an identifier) is selected for the decoder: as it is when its kind
/// is decoded from its own binary form, otherwise as its type's text output (`format`,
/// never a cast to text the database may define).
pub fn select_expression(quoted: &str, kind: &PgKind) -> String {
    if decodes_natively(kind) {
        quoted.to_string()
    } else {
        format!("CASE WHEN {quoted} IS NULL THEN NULL ELSE format('%s', {quoted}) END AS {quoted}")
    }
}

/// Kinds whose binary send format is decoded here. Text-like kinds send their UTF-8 text
/// (jsonb after a version byte); an enum sends its label.
fn decodes_natively(kind: &PgKind) -> bool {
    match kind {
        PgKind::CastText => false,
        PgKind::Array(element) => decodes_natively(element) && !matches!(**element, PgKind::Jsonb),
        _ => true,
    }
}

/// One column: a scalar read from its binary form into the builder every Arrow producer
/// shares ([`ColumnBuilder`]), or a one-dimensional array of such scalars.
enum ColumnDecoder {
    Scalar(ColumnBuilder, Wire),
    List(Box<ListDecoder>),
}

/// An array column: offsets and validity here, elements in `values`.
struct ListDecoder {
    field: FieldRef,
    offsets: Vec<i32>,
    validity: NullBufferBuilder,
    values: ColumnBuilder,
    element: Wire,
}

/// The binary send format of a scalar kind.
#[derive(Debug, Clone, Copy)]
enum Wire {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric`, into a Decimal128 of this scale.
    Numeric(i8),
    /// UTF-8 text: text-like types, enums (their label), json, and text output.
    Text,
    /// A version byte (1), then the text.
    Jsonb,
    Bytes,
    Date,
    Time,
    Timestamp,
    Uuid,
}

impl Wire {
    fn of(kind: &PgKind) -> Wire {
        match kind {
            PgKind::Bool => Wire::Bool,
            PgKind::Int2 => Wire::Int2,
            PgKind::Int4 => Wire::Int4,
            PgKind::Int8 => Wire::Int8,
            PgKind::Float4 => Wire::Float4,
            PgKind::Float8 => Wire::Float8,
            PgKind::Decimal { scale, .. } => Wire::Numeric(*scale),
            PgKind::Jsonb => Wire::Jsonb,
            PgKind::Bytea => Wire::Bytes,
            PgKind::Date => Wire::Date,
            PgKind::Time => Wire::Time,
            PgKind::Timestamp | PgKind::Timestamptz => Wire::Timestamp,
            PgKind::Uuid => Wire::Uuid,
            _ => Wire::Text,
        }
    }

    /// One value from its binary form; text and bytes are ranges of `value` itself.
    fn decode(self, value: &[u8]) -> Decoded<Value> {
        Ok(match self {
            Wire::Bool => Value::Bool(fixed::<1>(value)?[0] != 0),
            Wire::Int2 => Value::Int(i16::from_be_bytes(fixed(value)?).into()),
            Wire::Int4 => Value::Int(i32::from_be_bytes(fixed(value)?).into()),
            Wire::Int8 => Value::Int(i64::from_be_bytes(fixed(value)?)),
            Wire::Float4 => Value::Float(f32::from_be_bytes(fixed(value)?).into()),
            Wire::Float8 => Value::Float(f64::from_be_bytes(fixed(value)?)),
            Wire::Numeric(scale) => Value::Decimal(decimal(value, scale)?),
            Wire::Text => {
                utf8(value)?;
                Value::Text(0..value.len())
            }
            Wire::Jsonb => match value.split_first() {
                Some((1, text)) => {
                    utf8(text)?;
                    Value::Text(1..value.len())
                }
                _ => return Err("a jsonb value of an unknown binary version".into()),
            },
            Wire::Bytes => Value::Bytes(0..value.len()),
            // -infinity is the type's least value, infinity its greatest.
            Wire::Date => match i32::from_be_bytes(fixed(value)?) {
                i32::MIN => return Err(Refusal::Irregular("-infinity")),
                days => match days.checked_add(EPOCH_DAYS) {
                    Some(days) if days < DISTANT_DAYS => Value::Date(days),
                    _ => return Err(Refusal::Irregular("a date past year 262141 (or infinity)")),
                },
            },
            Wire::Time => Value::Micros(i64::from_be_bytes(fixed(value)?)),
            Wire::Timestamp => match i64::from_be_bytes(fixed(value)?) {
                i64::MIN => return Err(Refusal::Irregular("-infinity")),
                micros => match micros.checked_add(EPOCH_MICROS) {
                    Some(micros) if micros < DISTANT_MICROS => Value::Micros(micros),
                    _ => {
                        let distant = "a timestamp past year 262141 (or infinity)";
                        return Err(Refusal::Irregular(distant));
                    }
                },
            },
            Wire::Uuid => Value::Uuid(fixed::<16>(value)?),
        })
    }
}

impl ColumnDecoder {
    fn new(kind: &PgKind, data_type: &DataType, capacity: usize) -> Self {
        match (kind, data_type) {
            (PgKind::Array(element), DataType::List(field)) => Self::List(Box::new(ListDecoder {
                field: field.clone(),
                offsets: Vec::from([0]),
                validity: NullBufferBuilder::new(capacity),
                values: ColumnBuilder::new(field.data_type(), capacity),
                element: Wire::of(element),
            })),
            _ => Self::Scalar(ColumnBuilder::new(data_type, capacity), Wire::of(kind)),
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Scalar(builder, _) => builder.append(&Value::Null, &[], &[]),
            Self::List(list) => {
                let last = *list.offsets.last().expect("offsets start with 0");
                list.offsets.push(last);
                list.validity.append_null();
            }
        }
    }

    /// Append one value from its binary form.
    fn append(&mut self, value: &[u8]) -> Decoded<()> {
        match self {
            Self::Scalar(builder, wire) => builder.append(&wire.decode(value)?, value, value),
            Self::List(list) => list.append(value)?,
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Scalar(builder, _) => builder.finish(),
            Self::List(list) => list.finish(),
        }
    }
}

impl ListDecoder {
    /// An array's binary form: dimensions, a has-nulls flag, the element type, each
    /// dimension's size and lower bound, then each element as a length and its bytes.
    fn append(&mut self, value: &[u8]) -> Decoded<()> {
        if value.len() < 12 {
            return Err("a truncated array".into());
        }
        let dimensions = read_i32(value, 0);
        let mut at = 12;
        let count = match dimensions {
            0 => 0,
            1 if value.len() >= 20 => {
                at = 20;
                read_i32(value, 12).max(0) as usize
            }
            1 => return Err("a truncated array".into()),
            _ => return Err(Refusal::Irregular("an array of several dimensions")),
        };
        if dimensions == 1 && read_i32(value, 16) != 1 {
            return Err(Refusal::Irregular("an array whose first index is not 1"));
        }
        for _ in 0..count {
            if value.len() < at + 4 {
                return Err("a truncated array".into());
            }
            let len = read_i32(value, at);
            at += 4;
            if len < 0 {
                self.values.append(&Value::Null, &[], &[]);
                continue;
            }
            let end = at + len as usize;
            let element = value.get(at..end).ok_or("a truncated array")?;
            self.values
                .append(&self.element.decode(element)?, element, element);
            at = end;
        }
        let last = *self.offsets.last().expect("offsets start with 0");
        let count = i32::try_from(count).map_err(|_| "an array too long for Arrow")?;
        self.offsets.push(
            last.checked_add(count)
                .ok_or("arrays too long for one batch")?,
        );
        self.validity.append_non_null();
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        let offsets = std::mem::replace(&mut self.offsets, Vec::from([0]));
        let array = ListArray::new(
            self.field.clone(),
            OffsetBuffer::new(offsets.into()),
            self.values.finish(),
            self.validity.finish(),
        );
        Arc::new(array)
    }
}

/// A `numeric` value's binary form as the integer of a Decimal128 of `scale`: digit groups
/// of base 10000, the first of weight `weight` (10000^weight). The integer part is
/// accumulated, then scaled, then each fractional group added at its place; a column's
/// values have no more fractional digits than its scale, so nothing is rounded.
fn decimal(value: &[u8], scale: i8) -> Decoded<i128> {
    if value.len() < 8 {
        return Err("a truncated numeric".into());
    }
    let groups = read_i16(value, 0).max(0) as usize;
    let weight = read_i16(value, 2) as i32;
    let sign = u16::from_be_bytes([value[4], value[5]]);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err(Refusal::Irregular("NaN")),
        _ => return Err(Refusal::Irregular("an infinity")),
    }
    if value.len() < 8 + 2 * groups {
        return Err("a truncated numeric".into());
    }
    let group = |i: i32| -> i128 {
        let i = i as usize;
        if i < groups {
            u16::from_be_bytes([value[8 + 2 * i], value[9 + 2 * i]]) as i128
        } else {
            0
        }
    };
    let overflow = || Refusal::from("a numeric too large for its precision");
    let mut integer: i128 = 0;
    for i in 0..=weight {
        integer = (integer.checked_mul(10_000))
            .and_then(|v| v.checked_add(group(i)))
            .ok_or_else(overflow)?;
    }
    let scale = scale as i32;
    let mut result = integer
        .checked_mul(10i128.pow(scale.max(0) as u32))
        .ok_or_else(overflow)?;
    for i in (weight + 1).max(0)..groups as i32 {
        let place = i - weight; // this group's digits are 10^(-4 * place) .. 10^(-4 * place + 3)
        let shift = scale - 4 * place;
        let part = if shift >= 0 {
            group(i) * 10i128.pow(shift as u32)
        } else if shift > -4 {
            group(i) / 10i128.pow((-shift) as u32)
        } else {
            0
        };
        result = result.checked_add(part).ok_or_else(overflow)?;
    }
    Ok(if sign == 0x4000 { -result } else { result })
}

fn fixed<const N: usize>(value: &[u8]) -> Decoded<[u8; N]> {
    value
        .try_into()
        .map_err(|_| format!("a value of {} bytes, {N} expected", value.len()).into())
}

fn utf8(value: &[u8]) -> Decoded<&str> {
    std::str::from_utf8(value).map_err(|e| format!("text that is not UTF-8: {e}").into())
}

fn read_i16(data: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([data[at], data[at + 1]])
}

fn read_i32(data: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `numeric`'s binary form of `groups` (base 10000) with `weight`, negative or not.
    fn numeric(groups: &[u16], weight: i16, negative: bool) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((groups.len() as i16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend(if negative { 0x4000u16 } else { 0 }.to_be_bytes());
        out.extend(0i16.to_be_bytes());
        for g in groups {
            out.extend(g.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_become_decimals_of_the_columns_scale() {
        // 12345.678 = 1|2345|6780 (weight 1)
        assert_eq!(
            decimal(&numeric(&[1, 2345, 6780], 1, false), 3),
            Ok(12_345_678)
        );
        assert_eq!(
            decimal(&numeric(&[1, 2345, 6780], 1, true), 4),
            Ok(-123_456_780)
        );
        // 0.05 = 500 at weight -1; 0 has no groups; 20000 = 2 at weight 1 (trailing zeros cut)
        assert_eq!(decimal(&numeric(&[500], -1, false), 2), Ok(5));
        assert_eq!(decimal(&numeric(&[], 0, false), 2), Ok(0));
        assert_eq!(decimal(&numeric(&[2], 1, false), 0), Ok(20_000));
        // 0.00000001 = 1 at weight -2 (10^-8 place)
        assert_eq!(decimal(&numeric(&[1], -2, false), 8), Ok(1));
        // the largest numeric(38,0): 38 nines = 99|9999 x 9 (weight 9)
        let nines: Vec<u16> = std::iter::once(99).chain([9999; 9]).collect();
        assert_eq!(
            decimal(&numeric(&nines, 9, false), 0),
            Ok(10i128.pow(38) - 1)
        );
        assert!(
            decimal(&numeric(&nines, 9, false), 2).is_err(),
            "overflow is an error"
        );
        let mut nan = numeric(&[], 0, false);
        nan[4] = 0xC0;
        assert_eq!(decimal(&nan, 2), Err(Refusal::Irregular("NaN")));
    }

    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend([0u8; 8]);
        for row in rows {
            out.extend((row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    Some(v) => {
                        out.extend((v.len() as i32).to_be_bytes());
                        out.extend(v);
                    }
                    None => out.extend((-1i32).to_be_bytes()),
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    #[test]
    fn rows_split_anywhere_decode_the_same() {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::{Field, Int32Type, Schema};
        let kinds = [
            PgKind::Int4,
            PgKind::Text { max_chars: None },
            PgKind::Array(Box::new(PgKind::Int4)),
        ];
        let schema = Arc::new(Schema::new(
            kinds
                .iter()
                .enumerate()
                .map(|(i, k)| Field::new(format!("c{i}"), k.arrow_type(), true))
                .collect::<Vec<_>>(),
        ));
        let array = |items: &[Option<i32>]| {
            let mut v = Vec::new();
            v.extend(1i32.to_be_bytes()); // dimensions
            v.extend(1i32.to_be_bytes()); // has nulls
            v.extend(23u32.to_be_bytes()); // int4
            v.extend((items.len() as i32).to_be_bytes());
            v.extend(1i32.to_be_bytes()); // lower bound
            for item in items {
                match item {
                    Some(x) => {
                        v.extend(4i32.to_be_bytes());
                        v.extend(x.to_be_bytes());
                    }
                    None => v.extend((-1i32).to_be_bytes()),
                }
            }
            v
        };
        let rows: Vec<Vec<Option<Vec<u8>>>> = (0..5)
            .map(|i: i32| {
                vec![
                    Some(i.to_be_bytes().to_vec()),
                    (i % 2 == 0).then(|| format!("é{i}").into_bytes()),
                    (i != 3).then(|| array(&[Some(i), None])),
                ]
            })
            .collect();
        let bytes = stream(&rows);
        for piece in [1, 2, 3, 7, bytes.len()] {
            let mut decoder = CopyDecoder::new(schema.clone(), &kinds, 2);
            let mut batches = Vec::new();
            for chunk in bytes.chunks(piece) {
                decoder.push(chunk, &mut |b| batches.push(b)).unwrap();
            }
            batches.extend(decoder.finish().unwrap());
            let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
            assert_eq!(sizes, [2, 2, 1], "pieces of {piece}");
            let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
            let ids: Vec<i32> = all.column(0).as_primitive::<Int32Type>().values().to_vec();
            assert_eq!(ids, [0, 1, 2, 3, 4]);
            let text = all.column(1).as_string::<i32>();
            assert_eq!(text.value(2), "é2");
            assert!(text.is_null(1));
            let lists = all.column(2).as_list::<i32>();
            assert!(lists.is_null(3));
            assert_eq!(lists.value(4).as_primitive::<Int32Type>().value(0), 4);
            assert!(lists.value(4).is_null(1));
        }
    }

    #[test]
    fn a_stream_cut_short_is_an_error() {
        use arrow::datatypes::{Field, Schema};
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)]));
        let bytes = stream(&[vec![Some(7i32.to_be_bytes().to_vec())]]);
        let mut decoder = CopyDecoder::new(schema, &[PgKind::Int4], 10);
        decoder
            .push(&bytes[..bytes.len() - 4], &mut |_| ())
            .unwrap();
        let error = decoder.finish().unwrap_err();
        assert!(
            error.reason.contains("ended in the middle") && !error.irregular,
            "{}",
            error.reason
        );
    }

    #[test]
    fn the_distant_limits_are_chronos_year_262142() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let days = day(DISTANT_YEAR, 1, 1) - day(1970, 1, 1);
        assert_eq!(days.num_days(), DISTANT_DAYS as i64);
        assert_eq!(
            (day(2000, 1, 1) - day(1970, 1, 1)).num_days(),
            EPOCH_DAYS as i64
        );
    }

    #[test]
    fn values_beyond_the_arrow_type_are_irregular_not_mangled() {
        let date = |days: i32| Wire::Date.decode(&days.to_be_bytes());
        let timestamp = |micros: i64| Wire::Timestamp.decode(&micros.to_be_bytes());
        let irregular = |r: Decoded<Value>| matches!(r, Err(Refusal::Irregular(_)));
        assert!(irregular(date(i32::MIN)), "-infinity");
        assert!(irregular(date(i32::MAX)), "infinity");
        assert!(irregular(date(DISTANT_DAYS - EPOCH_DAYS)), "262142-01-01");
        assert!(
            matches!(date(DISTANT_DAYS - EPOCH_DAYS - 1), Ok(Value::Date(d)) if d == DISTANT_DAYS - 1)
        );
        // 4713 BC, Postgres's first date, fits
        assert!(matches!(date(-2_451_545), Ok(Value::Date(_))));
        assert!(irregular(timestamp(i64::MIN)), "-infinity");
        assert!(irregular(timestamp(i64::MAX)), "infinity");
        assert!(irregular(timestamp(DISTANT_MICROS - EPOCH_MICROS)));
        assert!(matches!(timestamp(0), Ok(Value::Micros(EPOCH_MICROS))));
        assert!(matches!(
            Wire::Date.decode(&[0, 0]),
            Err(Refusal::Malformed(_))
        ));

        // '[0:0]={7}' and '{{7}}': an int4 array of one element, from index 0 / in 2 dimensions
        let kind = PgKind::Array(Box::new(PgKind::Int4));
        let mut list = ColumnDecoder::new(&kind, &kind.arrow_type(), 4);
        let array = |dimensions: i32, lower: i32| {
            let mut v = Vec::new();
            v.extend(dimensions.to_be_bytes());
            v.extend(0i32.to_be_bytes()); // no nulls
            v.extend(23u32.to_be_bytes()); // int4
            for _ in 0..dimensions {
                v.extend(1i32.to_be_bytes());
                v.extend(lower.to_be_bytes());
            }
            v.extend(4i32.to_be_bytes());
            v.extend(7i32.to_be_bytes());
            v
        };
        assert_eq!(list.append(&array(1, 1)), Ok(()));
        for (dimensions, lower) in [(1, 0), (2, 1)] {
            let refused = list.append(&array(dimensions, lower));
            assert!(matches!(refused, Err(Refusal::Irregular(_))), "{refused:?}");
        }
    }
}
