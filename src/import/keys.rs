//! Key checks of an import, done before rows reach COPY: a duplicate primary key (within the
//! file or against rows already in the table) and a foreign key without a parent row are
//! rejects, not a failed load.
//!
//! Integer keys live in a compressed bitmap (a few MB for tens of millions of ids); other keys
//! in a hash set. Keys of columns that are neither integer nor text are checked within the
//! file only; the server still enforces them against existing rows.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};
use roaring::RoaringTreemap;
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::formats::csv::{Refusal, RowCheck};
use crate::postgres::connect::quote_ident;
use crate::postgres::types::PgKind;
use crate::values::Value;

/// The separator of composite keys rendered as text.
const UNIT_SEPARATOR: char = '\u{1f}';

/// A set of key values.
pub enum KeySet {
    Ints(RoaringTreemap),
    Texts(HashSet<String>),
}

#[derive(PartialEq)]
enum Key {
    Int(i64),
    Text(String),
}

impl KeySet {
    fn new(integer: bool) -> Self {
        if integer {
            KeySet::Ints(RoaringTreemap::new())
        } else {
            KeySet::Texts(HashSet::new())
        }
    }

    fn contains(&self, key: &Key) -> bool {
        match (self, key) {
            (KeySet::Ints(set), Key::Int(v)) => set.contains(order_preserving(*v)),
            (KeySet::Texts(set), Key::Text(v)) => set.contains(v),
            _ => false,
        }
    }

    fn insert(&mut self, key: Key) {
        match (self, key) {
            (KeySet::Ints(set), Key::Int(v)) => {
                set.insert(order_preserving(v));
            }
            (KeySet::Texts(set), Key::Text(v)) => {
                set.insert(v);
            }
            _ => {}
        }
    }
}

fn order_preserving(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// Columns of one key, as positions in the loaded row, and how they are compared.
struct KeyColumns {
    positions: Vec<usize>,
    names: Vec<String>,
    /// One integer column: kept in a bitmap.
    integer: bool,
    /// Every column integer or text: comparable with rows read from the database.
    comparable: bool,
}

impl KeyColumns {
    fn new(names: &[String], load_columns: &[String], kinds: &[PgKind]) -> Option<Self> {
        let positions: Option<Vec<usize>> = names
            .iter()
            .map(|n| load_columns.iter().position(|c| c == n))
            .collect();
        let positions = positions?;
        let is_int = |k: &PgKind| matches!(k, PgKind::Int2 | PgKind::Int4 | PgKind::Int8);
        let is_text = |k: &PgKind| matches!(k, PgKind::Text { .. });
        Some(KeyColumns {
            integer: positions.len() == 1 && is_int(&kinds[positions[0]]),
            comparable: positions
                .iter()
                .all(|&p| is_int(&kinds[p]) || is_text(&kinds[p])),
            positions,
            names: names.to_vec(),
        })
    }

    /// The key of a row, or `None` when a key column is NULL.
    fn key_of(&self, values: &[Value], text: &[u8]) -> Option<Key> {
        if self.integer {
            return match values[self.positions[0]] {
                Value::Int(v) => Some(Key::Int(v)),
                _ => None,
            };
        }
        let mut key = String::new();
        for (i, &p) in self.positions.iter().enumerate() {
            if i > 0 {
                key.push(UNIT_SEPARATOR);
            }
            match &values[p] {
                Value::Null => return None,
                Value::Int(v) => key.push_str(&v.to_string()),
                Value::Text(r) => {
                    key.push_str(std::str::from_utf8(&text[r.clone()]).unwrap_or_default())
                }
                other => key.push_str(&format!("{other:?}")),
            }
        }
        Some(Key::Text(key))
    }

    fn describe(&self, values: &[Value], text: &[u8]) -> String {
        let parts: Vec<String> = self
            .names
            .iter()
            .zip(&self.positions)
            .map(|(n, &p)| match &values[p] {
                Value::Int(v) => format!("{n}={v}"),
                Value::Text(r) => format!("{n}={:?}", String::from_utf8_lossy(&text[r.clone()])),
                other => format!("{n}={other:?}"),
            })
            .collect();
        parts.join(", ")
    }

    /// Read the key values present in `table` (`schema.table`, quoted).
    async fn load(&self, tx: &Transaction<'_>, table: &str, label: &str) -> Result<KeySet> {
        let mut set = KeySet::new(self.integer);
        let cols: Vec<String> = self.names.iter().map(|c| quote_ident(c)).collect();
        let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let select = if self.integer {
            format!("{}::int8", cols[0])
        } else {
            let texts: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
            format!("concat_ws(E'\\x1f', {})", texts.join(", "))
        };
        let sql = format!(
            "SELECT {select} FROM {table} WHERE {}",
            not_null.join(" AND ")
        );
        let context = || format!("reading the keys of {label}");
        let rows = tx
            .query_raw(&sql, std::iter::empty::<&dyn ToSql>())
            .await
            .map_err(|e| Error::pg(context(), e))?;
        let mut rows = rows.map_err(|e| Error::pg(context(), e)).boxed();
        while let Some(row) = rows.next().await {
            let row = row?;
            set.insert(if self.integer {
                Key::Int(row.get(0))
            } else {
                Key::Text(row.get(0))
            });
        }
        Ok(set)
    }
}

struct ForeignKey {
    name: String,
    columns: KeyColumns,
    parents: KeySet,
    /// References the loaded table's own primary key: rows loaded earlier count as parents.
    self_reference: bool,
}

/// The [`RowCheck`] of an import.
pub struct KeyChecker {
    primary: Option<(KeyColumns, KeySet)>,
    foreign: Vec<ForeignKey>,
}

/// One foreign key of the target table.
pub struct ForeignKeySpec {
    pub name: String,
    pub columns: Vec<String>,
    /// The parent table, quoted `schema.table`.
    pub parent: String,
    pub parent_columns: Vec<String>,
    /// The parent is the target table itself.
    pub self_reference: bool,
}

/// What the checker needs to know about the target table.
pub struct KeySpec<'a> {
    /// `schema.table`, quoted, and the table name for messages.
    pub table: String,
    pub label: &'a str,
    pub primary_key: &'a [String],
    pub foreign_keys: Vec<ForeignKeySpec>,
    pub load_columns: &'a [String],
    pub kinds: &'a [PgKind],
    /// Check against rows already in the table (append mode).
    pub against_existing: bool,
}

impl KeyChecker {
    /// Prepare the checks, reading existing and parent keys inside `tx`.
    pub async fn prepare(tx: &Transaction<'_>, spec: KeySpec<'_>) -> Result<Self> {
        let mut primary = None;
        if !spec.primary_key.is_empty()
            && let Some(columns) = KeyColumns::new(spec.primary_key, spec.load_columns, spec.kinds)
        {
            let seen = if spec.against_existing && columns.comparable {
                columns.load(tx, &spec.table, spec.label).await?
            } else {
                KeySet::new(columns.integer)
            };
            primary = Some((columns, seen));
        }
        let mut foreign = Vec::new();
        for fk in spec.foreign_keys {
            let ForeignKeySpec {
                name,
                columns: cols,
                parent,
                parent_columns: parent_cols,
                self_reference,
            } = fk;
            let Some(columns) = KeyColumns::new(&cols, spec.load_columns, spec.kinds) else {
                continue;
            };
            if !columns.comparable || (self_reference && parent_cols != spec.primary_key) {
                continue; // left to the server
            }
            let parents = if self_reference {
                KeySet::new(columns.integer)
            } else {
                let parent_key = KeyColumns {
                    names: parent_cols.clone(),
                    positions: Vec::new(),
                    integer: columns.integer,
                    comparable: columns.comparable,
                };
                parent_key.load(tx, &parent, &parent).await?
            };
            foreign.push(ForeignKey {
                name,
                columns,
                parents,
                self_reference,
            });
        }
        Ok(KeyChecker { primary, foreign })
    }
}

impl RowCheck for KeyChecker {
    fn check(&mut self, values: &[Value], text: &[u8]) -> Result<(), Refusal> {
        let own_key = match &self.primary {
            Some((columns, seen)) => {
                let key = columns.key_of(values, text);
                if key.as_ref().is_some_and(|k| seen.contains(k)) {
                    let what = columns.describe(values, text);
                    return Err((
                        Some(columns.positions[0]),
                        format!("duplicate primary key ({what})"),
                    ));
                }
                key
            }
            None => None,
        };
        for fk in &self.foreign {
            let Some(key) = fk.columns.key_of(values, text) else {
                continue;
            };
            let found = if fk.self_reference {
                let seen = &self
                    .primary
                    .as_ref()
                    .expect("self references need the primary key")
                    .1;
                seen.contains(&key) || own_key.as_ref() == Some(&key)
            } else {
                fk.parents.contains(&key)
            };
            if !found {
                let what = fk.columns.describe(values, text);
                return Err((
                    Some(fk.columns.positions[0]),
                    format!("no parent row for foreign key {} ({what})", fk.name),
                ));
            }
        }
        if let (Some((_, seen)), Some(key)) = (&mut self.primary, own_key) {
            seen.insert(key);
        }
        Ok(())
    }
}
