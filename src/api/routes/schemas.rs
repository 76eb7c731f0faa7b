//! Request body types whose documented schema is stricter than what they parse: records
//! are documented field by field, but taken as any JSON value, so that a bad record is
//! rejected on its own (and reported) instead of failing the whole request.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// Records per request, at least and at most.
pub const MIN_RECORDS: usize = 1;
pub const MAX_RECORDS: usize = 1000;

/// `{"records": [...]}` with 1..=1000 records, each documented as `T`.
#[derive(Debug, Clone)]
pub struct IngestBody<T> {
    pub records: Vec<Value>,
    record: PhantomData<T>,
}

impl<T: Type> Type for IngestBody<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("IngestBody_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let records = MetaSchema {
            items: Some(Box::new(T::schema_ref())),
            min_items: Some(MIN_RECORDS),
            max_items: Some(MAX_RECORDS),
            description: Some(
                "1 to 1000 records. Each is checked on its own: a record that does not fit is \
                 rejected and reported, the others are inserted.",
            ),
            ..MetaSchema::new("array")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            required: vec!["records"],
            properties: vec![("records", MetaSchemaRef::Inline(Box::new(records)))],
            ..MetaSchema::new("object")
        }))
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: Type> ParseFromJSON for IngestBody<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let Some(Value::Object(mut body)) = value else {
            return Err(ParseError::custom(
                "the body must be a JSON object: {\"records\": [...]}",
            ));
        };
        if let Some(extra) = body.keys().find(|k| *k != "records") {
            return Err(ParseError::custom(format!(
                "unexpected field {extra:?}: the body holds only \"records\""
            )));
        }
        let records = match body.remove("records") {
            Some(Value::Array(records)) => records,
            Some(_) => return Err(ParseError::custom("\"records\" must be an array")),
            None => return Err(ParseError::custom("\"records\" is missing")),
        };
        if !(MIN_RECORDS..=MAX_RECORDS).contains(&records.len()) {
            return Err(ParseError::custom(format!(
                "\"records\" holds {} records; send {MIN_RECORDS} to {MAX_RECORDS} per request",
                records.len()
            )));
        }
        Ok(IngestBody {
            records,
            record: PhantomData,
        })
    }
}

impl<T: Type> ToJSON for IngestBody<T> {
    fn to_json(&self) -> Option<Value> {
        Some(serde_json::json!({ "records": self.records }))
    }
}

/// A record of any table: its fields are the table's columns (see `GET /api/v1/tables`).
#[derive(Debug, Clone)]
pub struct TableRecord;

impl Type for TableRecord {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "TableRecord".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "One row: column name -> value. Integers and booleans as JSON numbers and \
                 booleans; exact decimals as numbers or strings; dates, times and timestamps \
                 as ISO-8601 strings; json columns take any JSON value. The table's single \
                 integer primary key may be left out: the server assigns it.",
            ),
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
            ..MetaSchema::new("object")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

/// An ISO-8601 date-time in a string (documented as `format: date-time`).
#[derive(Debug, Clone)]
pub struct DateTimeText(pub String);

impl Type for DateTimeText {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string(date-time)".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for DateTimeText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(DateTimeText(s)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for DateTimeText {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type Body = IngestBody<TableRecord>;

    #[test]
    fn record_counts_are_enforced_with_a_clear_message() {
        let one = Body::parse_from_json(Some(json!({"records": [{"a": 1}]}))).unwrap();
        assert_eq!(one.records.len(), 1);
        let many: Vec<Value> = (0..1001).map(|i| json!({ "i": i })).collect();
        let err = Body::parse_from_json(Some(json!({ "records": many }))).unwrap_err();
        assert!(
            err.message().contains("holds 1001 records"),
            "{}",
            err.message()
        );
        let err = Body::parse_from_json(Some(json!({"records": []}))).unwrap_err();
        assert!(err.message().contains("holds 0 records"));
        assert!(Body::parse_from_json(Some(json!([1]))).is_err());
        assert!(Body::parse_from_json(Some(json!({"records": 1}))).is_err());
        assert!(Body::parse_from_json(Some(json!({"records": [1], "x": 1}))).is_err());
    }

    #[test]
    fn bad_records_still_parse_to_be_rejected_one_by_one() {
        let body = Body::parse_from_json(Some(json!({"records": [1, "x", null, {}]}))).unwrap();
        assert_eq!(body.records.len(), 4);
    }
}
