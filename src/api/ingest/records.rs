//! JSON records -> typed Arrow batches for one [`Target`], record by record: a record with
//! a missing, null, mistyped or too long field becomes a [`Reject`] naming that field; the
//! others are appended to the batch of their set of fields.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Field as ArrowField, Schema};
use serde_json::Value as Json;

use super::target::{Field, Target};
use crate::postgres::types::PgKind;
use crate::values::{self, ColumnBuilder, Value};

/// A record that was not written, and why.
pub use crate::values::Reject;

/// The records of one request that carry the same fields, typed.
#[derive(Debug)]
pub struct Group {
    /// Indexes into [`Target::fields`] of the batch's columns, in order.
    pub fields: Vec<usize>,
    /// The rows leave the id out: the writer assigns it.
    pub generate_ids: bool,
    pub batch: RecordBatch,
    /// Record index (in the request) of each row.
    pub records: Vec<usize>,
    /// Per key check of the target, per row: the key's values as text, `None` when a part
    /// is NULL or absent (such a key is not checked, as in SQL).
    pub keys: Vec<Vec<Option<Vec<String>>>>,
}

/// A request's records after checking: groups to write and rejects to report.
#[derive(Debug, Default)]
pub struct Prepared {
    pub groups: Vec<Group>,
    pub rejects: Vec<Reject>,
}

impl Prepared {
    /// Records that may still be written (before the key checks).
    pub fn rows(&self) -> usize {
        self.groups.iter().map(|g| g.records.len()).sum()
    }
}

/// Check and type `records` for `target`; `now_micros` fills fields that default to now.
pub fn prepare(target: &Target, records: &[Json], now_micros: i64) -> Prepared {
    let mut builders: Vec<GroupBuilder> = Vec::new();
    let mut group_of: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut rejects = Vec::new();
    let mut scratch = Scratch::default();
    for (index, record) in records.iter().enumerate() {
        let present = match scratch.check(target, record, now_micros) {
            Ok(present) => present,
            Err((field, reason)) => {
                rejects.push(Reject::record(index, field, reason));
                continue;
            }
        };
        let group = *group_of.entry(present.clone()).or_insert_with(|| {
            builders.push(GroupBuilder::new(target, present, records.len()));
            builders.len() - 1
        });
        builders[group].append(target, index, &scratch);
    }
    Prepared {
        groups: builders.into_iter().map(|b| b.finish(target)).collect(),
        rejects,
    }
}

/// One record's parsed values; text values point into `text`.
#[derive(Default)]
struct Scratch {
    values: Vec<Option<Value>>,
    /// The value of each field as text, for key checks.
    key_text: Vec<Option<String>>,
    text: Vec<u8>,
    bytes: Vec<u8>,
}

type FieldError = (Option<String>, String);

impl Scratch {
    /// Parse `record`; the indexes of the fields it sets (absent ones are left to the
    /// column default), or the first problem.
    fn check(
        &mut self,
        target: &Target,
        record: &Json,
        now: i64,
    ) -> Result<Vec<usize>, FieldError> {
        let Json::Object(object) = record else {
            return Err((
                None,
                format!("a record must be a JSON object, not {}", json_kind(record)),
            ));
        };
        if let Some(unknown) = object.keys().find(|k| target.field_index(k).is_none()) {
            let reason = if target.id.as_ref().is_some_and(|id| &id.name == unknown) {
                "ids are assigned by the server; leave this field out".to_string()
            } else {
                let names: Vec<&str> = target.fields.iter().map(|f| f.name.as_str()).collect();
                format!("unknown field; the fields are {}", names.join(", "))
            };
            return Err((Some(unknown.clone()), reason));
        }
        self.values.clear();
        self.key_text.clear();
        self.text.clear();
        self.bytes.clear();
        let mut present = Vec::with_capacity(target.fields.len());
        for (i, field) in target.fields.iter().enumerate() {
            let fail = |reason: String| (Some(field.name.clone()), reason);
            let value = match object.get(&field.name) {
                None | Some(Json::Null) if field.now_if_missing => {
                    self.key_text.push(None);
                    Some(now_value(&field.kind, now))
                }
                None if field.required => return Err(fail("required field is missing".into())),
                None => {
                    self.key_text.push(None);
                    None
                }
                Some(Json::Null) if field.not_null => {
                    return Err(fail("must not be null".into()));
                }
                Some(Json::Null) => {
                    self.key_text.push(None);
                    Some(Value::Null)
                }
                Some(json) => {
                    let value = self.parse(field, json).map_err(fail)?;
                    self.key_text.push(Some(key_text(json)));
                    Some(value)
                }
            };
            if value.is_some() {
                present.push(i);
            }
            self.values.push(value);
        }
        Ok(present)
    }

    /// One JSON value as `field`'s kind.
    fn parse(&mut self, field: &Field, json: &Json) -> Result<Value, String> {
        let expected = |what: &str| format!("expected {what}, got {}", json_kind(json));
        match (&field.kind, json) {
            (PgKind::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
            (PgKind::Bool, _) => Err(expected("true or false")),
            (PgKind::Int2 | PgKind::Int4 | PgKind::Int8, Json::Number(n)) => {
                let (min, max, name) = match field.kind {
                    PgKind::Int2 => (i16::MIN.into(), i16::MAX.into(), "smallint"),
                    PgKind::Int4 => (i32::MIN.into(), i32::MAX.into(), "integer"),
                    _ => (i64::MIN, i64::MAX, "bigint"),
                };
                match n.as_i64() {
                    Some(v) if (min..=max).contains(&v) => Ok(Value::Int(v)),
                    Some(_) | None if n.is_u64() || n.is_i64() => {
                        Err(format!("{n} is out of range for {name}"))
                    }
                    _ => Err(expected("an integer")),
                }
            }
            (PgKind::Int2 | PgKind::Int4 | PgKind::Int8, _) => Err(expected("an integer")),
            (PgKind::Float4 | PgKind::Float8 | PgKind::Decimal { .. }, Json::Number(n)) => {
                self.parse_text(field, n.to_string().as_bytes())
            }
            // Strings carry what JSON numbers cannot: exact decimals, NaN, Infinity.
            (PgKind::Float4 | PgKind::Float8 | PgKind::Decimal { .. }, Json::String(s)) => {
                self.parse_text(field, s.as_bytes())
            }
            (PgKind::Float4 | PgKind::Float8 | PgKind::Decimal { .. }, _) => {
                Err(expected("a number"))
            }
            (PgKind::Json | PgKind::Jsonb, json) => {
                let text = serde_json::to_string(json).expect("a JSON value serialises");
                self.parse_text(field, text.as_bytes())
            }
            (PgKind::CastText, Json::Number(_) | Json::Bool(_)) => {
                self.parse_text(field, json.to_string().as_bytes())
            }
            (_, Json::String(s)) => self.parse_text(field, s.as_bytes()),
            (_, _) => Err(expected(&format!("a string ({})", field.type_sql))),
        }
    }

    fn parse_text(&mut self, field: &Field, input: &[u8]) -> Result<Value, String> {
        let start = self.text.len();
        self.text.extend_from_slice(input);
        let end = self.text.len();
        values::parse(
            &field.kind,
            &self.text[start..end],
            start..end,
            &mut self.bytes,
        )
        .map_err(|reason| match field.kind {
            PgKind::Timestamp | PgKind::Timestamptz => {
                format!("{reason}: expected ISO-8601, e.g. 2021-07-27T16:02:08Z")
            }
            PgKind::Date => format!("{reason}: expected ISO-8601, e.g. 2021-07-27"),
            PgKind::Time => format!("{reason}: expected ISO-8601, e.g. 16:02:08"),
            _ => reason,
        })
    }
}

/// The current time as a value of `kind` (a timestamp, normally).
fn now_value(kind: &PgKind, now_micros: i64) -> Value {
    match kind {
        PgKind::Date => Value::Date(now_micros.div_euclid(86_400_000_000) as i32),
        _ => Value::Micros(now_micros),
    }
}

/// A key part as text (the server casts it back to the column type).
fn key_text(json: &Json) -> String {
    match json {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Builds one [`Group`].
struct GroupBuilder {
    fields: Vec<usize>,
    columns: Vec<ColumnBuilder>,
    records: Vec<usize>,
    keys: Vec<Vec<Option<Vec<String>>>>,
}

impl GroupBuilder {
    fn new(target: &Target, fields: Vec<usize>, capacity: usize) -> Self {
        let columns = fields
            .iter()
            .map(|&i| ColumnBuilder::new(&target.fields[i].kind.arrow_type(), capacity))
            .collect();
        GroupBuilder {
            fields,
            columns,
            records: Vec::with_capacity(capacity),
            keys: vec![Vec::with_capacity(capacity); target.keys.len()],
        }
    }

    fn append(&mut self, target: &Target, index: usize, scratch: &Scratch) {
        for (builder, &field) in self.columns.iter_mut().zip(&self.fields) {
            let value = scratch.values[field]
                .as_ref()
                .expect("present fields have values");
            builder.append(value, &scratch.text, &scratch.bytes);
        }
        for (check, keys) in target.keys.iter().zip(&mut self.keys) {
            let key: Option<Vec<String>> = check
                .fields
                .iter()
                .map(|&f| scratch.key_text[f].clone())
                .collect();
            keys.push(key);
        }
        self.records.push(index);
    }

    fn finish(mut self, target: &Target) -> Group {
        let schema: Vec<ArrowField> = self
            .fields
            .iter()
            .map(|&i| {
                let field = &target.fields[i];
                ArrowField::new(&field.name, field.kind.arrow_type(), true)
            })
            .collect();
        let columns = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.records.len()));
        let batch =
            RecordBatch::try_new_with_options(Arc::new(Schema::new(schema)), columns, &options)
                .expect("builders follow the schema");
        let generate_ids = target.id.as_ref().is_some_and(|id| {
            !self
                .fields
                .iter()
                .any(|&f| target.fields[f].name == id.name)
        });
        Group {
            fields: self.fields,
            generate_ids,
            batch,
            records: self.records,
            keys: self.keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::ingest::target::IdColumn;
    use crate::postgres::catalog::Table;

    fn field(name: &str, kind: PgKind, required: bool) -> Field {
        Field {
            name: name.into(),
            kind,
            type_sql: "t".into(),
            not_null: required,
            required,
            now_if_missing: false,
        }
    }

    fn target() -> Target {
        let mut when = field("when", PgKind::Timestamp, false);
        when.now_if_missing = true;
        Target {
            table: Table {
                oid: 1,
                schema: "public".into(),
                name: "t".into(),
                ..Table::default()
            },
            fields: vec![
                field("id", PgKind::Int4, false),
                field("name", PgKind::Text { max_chars: Some(3) }, true),
                field("n", PgKind::Int2, false),
                when,
            ],
            id: Some(IdColumn {
                name: "id".into(),
                kind: PgKind::Int4,
            }),
            keys: Vec::new(),
            server_checks: false,
        }
    }

    #[test]
    fn records_are_grouped_by_the_fields_they_set() {
        let records = [
            json!({"name": "a"}),
            json!({"name": "b", "n": 5}),
            json!({"name": "c", "id": 7}),
            json!({"name": "d", "n": null}),
        ];
        let prepared = prepare(&target(), &records, 86_400_000_000);
        assert!(prepared.rejects.is_empty(), "{:?}", prepared.rejects);
        let shapes: Vec<(Vec<usize>, bool, Vec<usize>)> = prepared
            .groups
            .iter()
            .map(|g| (g.fields.clone(), g.generate_ids, g.records.clone()))
            .collect();
        assert_eq!(
            shapes,
            [
                (vec![1, 3], true, vec![0]),
                (vec![1, 2, 3], true, vec![1, 3]),
                (vec![0, 1, 3], false, vec![2]),
            ]
        );
        // `when` defaults to the given now.
        let when = prepared.groups[0].batch.column(1);
        let when = when
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(when.value(0), 86_400_000_000);
    }

    #[test]
    fn each_bad_record_names_its_field() {
        let records = [
            json!({"name": "abcd"}),
            json!({"n": 1}),
            json!({"name": "a", "n": 40000}),
            json!({"name": "a", "n": "1"}),
            json!({"name": "a", "when": "yesterday"}),
            json!({"name": "a", "other": 1}),
            json!([1]),
            json!({"name": null}),
        ];
        let prepared = prepare(&target(), &records, 0);
        let fields: Vec<Option<&str>> = prepared
            .rejects
            .iter()
            .map(|r| r.column.as_deref())
            .collect();
        assert_eq!(
            fields,
            [
                Some("name"),
                Some("name"),
                Some("n"),
                Some("n"),
                Some("when"),
                Some("other"),
                None,
                Some("name")
            ]
        );
        let reasons: Vec<&str> = prepared.rejects.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("too long"), "{}", reasons[0]);
        assert_eq!(reasons[1], "required field is missing");
        assert_eq!(reasons[2], "40000 is out of range for smallint");
        assert_eq!(reasons[3], "expected an integer, got a string");
        assert!(reasons[4].contains("ISO-8601"), "{}", reasons[4]);
        assert!(reasons[5].starts_with("unknown field; the fields are id, name, n, when"));
        assert_eq!(reasons[6], "a record must be a JSON object, not an array");
        assert_eq!(reasons[7], "must not be null");
        assert_eq!(prepared.rows(), 0);
    }
}
