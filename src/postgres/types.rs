//! THE Postgres <-> Arrow type table. Every reader and writer asks this module how a column
//! is carried in Arrow; nothing else maps types.
//!
//! Types with an exact Arrow form travel in it (and go to Postgres as binary COPY). Types
//! without one (interval, inet, money, unconstrained numeric, arrays of text-like types, ...)
//! travel as text: the field's metadata records the Postgres type, and the writer casts the
//! text back on the server. Nothing unknown panics: it becomes text with its type recorded.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, TimeUnit};

use crate::postgres::catalog::Column;

/// Field metadata key holding the Postgres type (`format_type` form) of a column.
pub const PG_TYPE_KEY: &str = "lakeshift.pg_type";

/// How one Postgres column is carried in Arrow.
#[derive(Debug, Clone, PartialEq)]
pub enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(p,s)` with `p <= 38`: Decimal128(p, s).
    Decimal {
        precision: u8,
        scale: i8,
    },
    /// text, varchar(n), char(n), name, citext: `max_chars` from the modifier.
    Text {
        max_chars: Option<usize>,
    },
    /// An enum: one of these labels.
    Enum {
        labels: Vec<String>,
    },
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Uuid,
    Json,
    Jsonb,
    /// One-dimensional array of an exactly carried element type.
    Array(Box<PgKind>),
    /// Anything else: carried as text, cast on the server (`'...'::type_sql`).
    CastText,
}

impl PgKind {
    /// The kind for a catalog column; `enums` maps enum type names to their labels.
    pub fn of(column: &Column, enums: &HashMap<String, Vec<String>>) -> PgKind {
        let base = column.type_name.as_str();
        if column.type_kind == 'e' {
            return enums
                .get(base)
                .map_or(PgKind::CastText, |labels| PgKind::Enum {
                    labels: labels.clone(),
                });
        }
        if let Some(element) = base.strip_prefix('_') {
            // Element types whose binary array form pgpq writes with the right element OID.
            return match scalar_kind(element, -1) {
                Some(
                    k @ (PgKind::Bool
                    | PgKind::Int2
                    | PgKind::Int4
                    | PgKind::Int8
                    | PgKind::Float4
                    | PgKind::Float8
                    | PgKind::Date
                    | PgKind::Timestamp
                    | PgKind::Timestamptz
                    | PgKind::Bytea),
                ) => PgKind::Array(Box::new(k)),
                Some(PgKind::Text { .. }) if element == "text" => {
                    PgKind::Array(Box::new(PgKind::Text { max_chars: None }))
                }
                _ => PgKind::CastText,
            };
        }
        let base = if column.type_kind == 'd' {
            column.element_type.as_deref().unwrap_or(base)
        } else {
            base
        };
        scalar_kind(base, column.type_modifier).unwrap_or(PgKind::CastText)
    }

    /// The kind for values that arrive as text (CSV fields, JSON strings): like
    /// [`PgKind::of`], but array literals are Postgres text the server parses.
    pub fn of_text_input(column: &Column, enums: &HashMap<String, Vec<String>>) -> PgKind {
        match PgKind::of(column, enums) {
            PgKind::Array(_) => PgKind::CastText,
            kind => kind,
        }
    }

    /// The Arrow type that carries this kind.
    pub fn arrow_type(&self) -> DataType {
        match self {
            PgKind::Bool => DataType::Boolean,
            PgKind::Int2 => DataType::Int16,
            PgKind::Int4 => DataType::Int32,
            PgKind::Int8 => DataType::Int64,
            PgKind::Float4 => DataType::Float32,
            PgKind::Float8 => DataType::Float64,
            PgKind::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            PgKind::Text { .. }
            | PgKind::Enum { .. }
            | PgKind::Json
            | PgKind::Jsonb
            | PgKind::CastText => DataType::Utf8,
            PgKind::Bytea => DataType::Binary,
            PgKind::Date => DataType::Date32,
            PgKind::Time => DataType::Time64(TimeUnit::Microsecond),
            PgKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            PgKind::Timestamptz => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
            }
            PgKind::Uuid => DataType::FixedSizeBinary(16),
            PgKind::Array(element) => {
                DataType::List(Arc::new(Field::new("item", element.arrow_type(), true)))
            }
        }
    }

    /// Whether values travel as text and need a server-side cast to the column type.
    pub fn needs_cast(&self) -> bool {
        matches!(self, PgKind::CastText)
    }
}

/// The kind of a scalar type by its `pg_type.typname` and `atttypmod`.
fn scalar_kind(typname: &str, typmod: i32) -> Option<PgKind> {
    Some(match typname {
        "bool" => PgKind::Bool,
        "int2" => PgKind::Int2,
        "int4" => PgKind::Int4,
        "int8" => PgKind::Int8,
        "float4" => PgKind::Float4,
        "float8" => PgKind::Float8,
        "numeric" if typmod >= 4 => {
            let precision = ((typmod - 4) >> 16) & 0xffff;
            let scale = (typmod - 4) & 0xffff;
            if precision > 38 || scale > precision {
                return None;
            }
            PgKind::Decimal {
                precision: precision as u8,
                scale: scale as i8,
            }
        }
        "varchar" | "bpchar" => PgKind::Text {
            max_chars: (typmod >= 4).then(|| (typmod - 4) as usize),
        },
        "text" | "name" | "citext" => PgKind::Text { max_chars: None },
        "bytea" => PgKind::Bytea,
        "date" => PgKind::Date,
        "time" => PgKind::Time,
        "timestamp" => PgKind::Timestamp,
        "timestamptz" => PgKind::Timestamptz,
        "uuid" => PgKind::Uuid,
        "json" => PgKind::Json,
        "jsonb" => PgKind::Jsonb,
        _ => return None,
    })
}

/// The Arrow field for a catalog column: its kind's type, its nullability, and its Postgres
/// type recorded in the metadata.
pub fn arrow_field(column: &Column, kind: &PgKind) -> Field {
    Field::new(&column.name, kind.arrow_type(), !column.not_null).with_metadata(HashMap::from([(
        PG_TYPE_KEY.to_string(),
        column.type_sql.clone(),
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_name: &str, type_kind: char, typmod: i32) -> Column {
        Column {
            name: "c".into(),
            type_sql: type_name.into(),
            type_name: type_name.into(),
            type_kind,
            element_type: None,
            type_modifier: typmod,
            local: true,
            ..Column::default()
        }
    }

    #[test]
    fn modifiers_become_precision_and_length() {
        let none = HashMap::new();
        assert_eq!(
            PgKind::of(&column("numeric", 'b', (30 << 16 | 4) + 4), &none),
            PgKind::Decimal {
                precision: 30,
                scale: 4
            }
        );
        assert_eq!(
            PgKind::of(&column("numeric", 'b', -1), &none),
            PgKind::CastText
        );
        assert_eq!(
            PgKind::of(&column("varchar", 'b', 259), &none),
            PgKind::Text {
                max_chars: Some(255)
            }
        );
        assert_eq!(
            PgKind::of(&column("varchar", 'b', -1), &none),
            PgKind::Text { max_chars: None }
        );
    }

    #[test]
    fn unknown_types_and_awkward_arrays_travel_as_text() {
        let none = HashMap::new();
        for t in [
            "interval",
            "inet",
            "money",
            "xml",
            "_varchar",
            "_interval",
            "tsvector",
        ] {
            assert_eq!(
                PgKind::of(&column(t, 'b', -1), &none),
                PgKind::CastText,
                "{t}"
            );
        }
        assert_eq!(
            PgKind::of(&column("_int4", 'b', -1), &none),
            PgKind::Array(Box::new(PgKind::Int4))
        );
    }

    #[test]
    fn enums_carry_their_labels_and_timestamps_their_zone() {
        let enums = HashMap::from([(
            "mood".to_string(),
            vec!["sad".to_string(), "ok".to_string()],
        )]);
        assert!(
            matches!(PgKind::of(&column("mood", 'e', -1), &enums), PgKind::Enum { labels } if labels.len() == 2)
        );
        assert_eq!(
            PgKind::Timestamptz.arrow_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
        );
        assert_eq!(
            PgKind::Timestamp.arrow_type(),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
    }
}
