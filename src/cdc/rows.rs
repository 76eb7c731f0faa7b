//! Row images from the stream (each value in its type's text output) -> Arrow columns, by
//! the column's kind: the same parsers as an import ([`crate::values::parse`]) feeding the
//! same builders, and one-dimensional array literals split here.

use std::sync::Arc;

use arrow::array::{ArrayRef, ListArray};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::DataType;

use crate::postgres::types::PgKind;
use crate::values::{ColumnBuilder, Value, parse};

/// One value of a buffered row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// Not sent: a TOASTed value an update left as it was, or a column the source no longer
    /// has. The lake keeps what it holds.
    Keep,
    Text(Box<[u8]>),
}

impl Cell {
    pub fn bytes(&self) -> usize {
        match self {
            Cell::Text(t) => t.len(),
            _ => 0,
        }
    }
}

/// An Arrow column of `data_type` (the kind's own type, or text) from `cells` (a kept value
/// is null here: the merge takes the lake's).
pub fn column<'a>(
    kind: &PgKind,
    data_type: &DataType,
    cells: impl ExactSizeIterator<Item = &'a Cell>,
    name: &str,
) -> Result<ArrayRef, String> {
    let count = cells.len();
    match (kind, data_type) {
        (PgKind::Array(element), DataType::List(field)) => {
            let mut values = ColumnBuilder::new(field.data_type(), count);
            let mut offsets = Vec::with_capacity(count + 1);
            offsets.push(0i32);
            let mut valid = Vec::with_capacity(count);
            let mut scratch = Vec::new();
            for cell in cells {
                if let Cell::Text(text) = cell {
                    let items = split_array(text).map_err(|e| format!("{name}: {e}"))?;
                    for item in items {
                        match item {
                            None => values.append(&Value::Null, &[], &[]),
                            Some(item) => {
                                scratch.clear();
                                let value = parse(element, &item, 0..item.len(), &mut scratch)
                                    .map_err(|e| format!("{name}: {e}"))?;
                                values.append(&value, &item, &scratch);
                            }
                        }
                    }
                    valid.push(true);
                } else {
                    valid.push(false);
                }
                offsets.push(values.len() as i32);
            }
            let values = values.finish();
            Ok(Arc::new(
                ListArray::try_new(
                    field.clone(),
                    OffsetBuffer::new(offsets.into()),
                    values,
                    Some(NullBuffer::from(valid)),
                )
                .map_err(|e| format!("{name}: {e}"))?,
            ))
        }
        _ => {
            // A column whose lake type is text (an irregular one) takes the text as it is.
            let kind = if *data_type == DataType::Utf8 {
                &PgKind::CastText
            } else {
                kind
            };
            let mut builder = ColumnBuilder::new(data_type, count);
            let mut bytes = Vec::new();
            for cell in cells {
                match cell {
                    Cell::Text(text) => {
                        bytes.clear();
                        let value = parse(kind, text, 0..text.len(), &mut bytes)
                            .map_err(|e| refused(name, data_type, text, e))?;
                        builder.append(&value, text, &bytes);
                    }
                    _ => builder.append(&Value::Null, &[], &[]),
                }
            }
            Ok(builder.finish())
        }
    }
}

/// Why a value does not fit its lake column. One the source's type allows but the lake's type
/// cannot carry (NaN in a decimal, an infinite date or timestamp: the table's first copy held
/// none, so its column took the exact type) says how to take it.
fn refused(name: &str, data_type: &DataType, text: &[u8], error: String) -> String {
    let beyond = ["nan", "infinity", "-infinity"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word.as_bytes()));
    let exact = matches!(
        data_type,
        DataType::Decimal128(..) | DataType::Date32 | DataType::Timestamp(..)
    );
    if !(beyond && exact) {
        return format!("{name}: {error}");
    }
    format!(
        "{name}: {} cannot be carried by the lake's {data_type} column; remove this table's \
         Delta table from the lake and run cdc again: the table is copied again, this column \
         as text",
        String::from_utf8_lossy(text)
    )
}

/// The elements of a one-dimensional array literal (`{1,NULL,"a \"b\""}`): `None` for NULL.
pub fn split_array(text: &[u8]) -> Result<Vec<Option<Vec<u8>>>, String> {
    let bad = || {
        format!(
            "not a one-dimensional array: {:?}",
            String::from_utf8_lossy(text)
        )
    };
    // A literal with explicit bounds (`[0:1]={..}`) starts with them.
    let body = match text.iter().position(|&b| b == b'=') {
        Some(at) if text.first() == Some(&b'[') => &text[at + 1..],
        _ => text,
    };
    let inner = body
        .strip_prefix(b"{")
        .and_then(|b| b.strip_suffix(b"}"))
        .ok_or_else(bad)?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Ok(items);
    }
    let mut at = 0;
    loop {
        let (item, next) = if inner.get(at) == Some(&b'"') {
            let mut value = Vec::new();
            let mut i = at + 1;
            loop {
                match inner.get(i) {
                    Some(b'\\') => {
                        value.push(*inner.get(i + 1).ok_or_else(bad)?);
                        i += 2;
                    }
                    Some(b'"') => break,
                    Some(&b) => {
                        value.push(b);
                        i += 1;
                    }
                    None => return Err(bad()),
                }
            }
            (Some(value), i + 1)
        } else {
            let end = inner[at..]
                .iter()
                .position(|&b| b == b',')
                .map_or(inner.len(), |p| at + p);
            let raw = &inner[at..end];
            if raw.first() == Some(&b'{') {
                return Err(bad());
            }
            let item = (!raw.eq_ignore_ascii_case(b"NULL")).then(|| raw.to_vec());
            (item, end)
        };
        items.push(item);
        match inner.get(next) {
            None => return Ok(items),
            Some(b',') => at = next + 1,
            Some(_) => return Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Int32Type};

    #[test]
    fn array_literals_split_with_quotes_escapes_and_nulls() {
        let items = split_array(br#"{1,NULL,"a \"b\", c","NULL",\N}"#).unwrap();
        assert_eq!(
            items,
            vec![
                Some(b"1".to_vec()),
                None,
                Some(br#"a "b", c"#.to_vec()),
                Some(b"NULL".to_vec()),
                Some(b"\\N".to_vec()),
            ]
        );
        assert_eq!(split_array(b"{}").unwrap(), vec![]);
        assert_eq!(split_array(b"[0:1]={7,8}").unwrap().len(), 2);
        assert!(split_array(b"{{1,2},{3,4}}").is_err());
        assert!(split_array(b"{\"open").is_err());
        assert!(split_array(b"1,2").is_err());
    }

    #[test]
    fn an_int_array_column_with_a_null_array_and_null_elements() {
        let data_type = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
        let cells = [
            Cell::Text(b"{1,NULL,3}".to_vec().into()),
            Cell::Null,
            Cell::Text(b"{}".to_vec().into()),
        ];
        let kind = PgKind::Array(Box::new(PgKind::Int4));
        let array = column(&kind, &data_type, cells.iter(), "a").unwrap();
        let list = array.as_list::<i32>();
        assert_eq!(list.len(), 3);
        assert!(list.is_null(1));
        assert_eq!(list.value(2).len(), 0);
        let first = list.value(0);
        let first = first.as_primitive::<Int32Type>();
        assert_eq!(
            (first.value(0), first.is_null(1), first.value(2)),
            (1, true, 3)
        );
    }

    #[test]
    fn a_value_that_does_not_parse_names_its_column() {
        let cells = [Cell::Text(b"12x".to_vec().into())];
        let err = column(&PgKind::Int4, &DataType::Int32, cells.iter(), "qty").unwrap_err();
        assert!(err.starts_with("qty: "), "{err}");
    }
}
