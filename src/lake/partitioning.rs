//! How a Delta table is partitioned (`--partition-by`). By default a Postgres table
//! LIST-partitioned on plain columns keeps that layout in Delta: one folder per value, which
//! readers prune on. A RANGE or HASH key is not taken by default: its values are as many as
//! the rows (a timestamp, an id), and a Delta partition per value would be a file per row.

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::postgres::catalog::Table;

/// The Delta partition columns a sync asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PartitionBy {
    /// The source's LIST partition key when it is plain columns; none otherwise. An existing
    /// Delta table keeps its layout.
    #[default]
    Auto,
    /// Not partitioned.
    Off,
    /// These columns, in this order.
    Columns(Vec<String>),
}

impl PartitionBy {
    /// From the CLI's `--partition-by`: `auto`, `none`, or comma-separated columns.
    pub fn parse(text: &str) -> PartitionBy {
        match text.trim() {
            "auto" => PartitionBy::Auto,
            "none" | "" => PartitionBy::Off,
            columns => PartitionBy::Columns(
                columns
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
            ),
        }
    }

    /// The partition columns for `table`'s Delta table: `None` to keep an existing table's
    /// layout (or to create one without partitions).
    pub fn columns(&self, table: &Table) -> Result<Option<Vec<String>>> {
        match self {
            PartitionBy::Auto => Ok(list_key_columns(table)),
            PartitionBy::Off => Ok(Some(Vec::new())),
            PartitionBy::Columns(columns) => {
                if let Some(missing) = columns.iter().find(|c| table.column(c).is_none()) {
                    return Err(Error::option(
                        "partition_by",
                        format!("{}: {} has no such column", missing, table.full_name()),
                    ));
                }
                Ok(Some(columns.clone()))
            }
        }
    }

    /// Whether the columns were asked for (and so must hold on an existing table).
    pub fn is_explicit(&self) -> bool {
        *self != PartitionBy::Auto
    }
}

/// YAML: `partition_by: auto`, `partition_by: none`, or a list of columns.
impl<'de> Deserialize<'de> for PartitionBy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Word(String),
            Columns(Vec<String>),
        }
        Ok(match Written::deserialize(deserializer)? {
            Written::Word(word) => PartitionBy::parse(&word),
            Written::Columns(columns) if columns.is_empty() => PartitionBy::Off,
            Written::Columns(columns) => PartitionBy::Columns(columns),
        })
    }
}

/// The columns of a `LIST (a, b)` partition key, when each is a plain column of the table.
fn list_key_columns(table: &Table) -> Option<Vec<String>> {
    let key = table.partition_key.as_deref()?;
    let inner = key.strip_prefix("LIST (")?.strip_suffix(')')?;
    let columns = split_identifiers(inner)?;
    columns
        .iter()
        .all(|c| table.column(c).is_some())
        .then_some(columns)
}

/// `a, "Odd ""name"""` as identifiers; `None` when anything else is there (an expression, a
/// collation or an operator class).
fn split_identifiers(list: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = list.trim().chars().peekable();
    loop {
        let mut name = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        name.push('"');
                    }
                    '"' => break,
                    c => name.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
        }
        out.push(name);
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::catalog::Column;

    fn table(key: &str, columns: &[&str]) -> Table {
        Table {
            schema: "public".into(),
            name: "t".into(),
            partition_key: Some(key.into()),
            columns: columns
                .iter()
                .map(|c| Column {
                    name: c.to_string(),
                    ..Column::default()
                })
                .collect(),
            ..Table::default()
        }
    }

    #[test]
    fn a_list_key_of_plain_columns_is_taken_by_default() {
        let t = table(
            r#"LIST (region, "Odd ""x""")"#,
            &["region", r#"Odd "x""#, "v"],
        );
        assert_eq!(
            PartitionBy::Auto.columns(&t).unwrap(),
            Some(vec!["region".to_string(), r#"Odd "x""#.to_string()])
        );
    }

    #[test]
    fn range_hash_and_expression_keys_are_not_taken_by_default() {
        for key in [
            "RANGE (created_at)",
            "HASH (id)",
            "LIST (lower(region))",
            "LIST (region COLLATE \"C\")",
            "LIST (region text_pattern_ops)",
        ] {
            let t = table(key, &["created_at", "id", "region"]);
            assert_eq!(PartitionBy::Auto.columns(&t).unwrap(), None, "{key}");
        }
        let plain = Table::default();
        assert_eq!(PartitionBy::Auto.columns(&plain).unwrap(), None);
    }

    #[test]
    fn asked_for_columns_must_exist_and_none_turns_partitioning_off() {
        let t = table("RANGE (created_at)", &["created_at", "region"]);
        assert_eq!(
            PartitionBy::parse("region").columns(&t).unwrap(),
            Some(vec!["region".to_string()])
        );
        assert_eq!(
            PartitionBy::parse("none").columns(&t).unwrap(),
            Some(vec![])
        );
        let err = PartitionBy::parse("region,nope").columns(&t).unwrap_err();
        assert!(
            err.to_string()
                .contains("nope: public.t has no such column"),
            "{err}"
        );
    }

    #[test]
    fn yaml_takes_a_word_or_a_list() {
        let parse = |s: &str| serde_yaml::from_str::<PartitionBy>(s).unwrap();
        assert_eq!(parse("auto"), PartitionBy::Auto);
        assert_eq!(parse("none"), PartitionBy::Off);
        assert_eq!(parse("[]"), PartitionBy::Off);
        assert_eq!(
            parse("[region, year]"),
            PartitionBy::Columns(vec!["region".into(), "year".into()])
        );
    }
}
