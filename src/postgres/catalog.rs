//! Introspection: what a set of Postgres schemas contains (tables with their columns, keys and
//! constraints, sequences, types, indexes, views, functions, triggers, comments), read from the
//! system catalogs in one repeatable-read snapshot.
//!
//! Queries run with `search_path = pg_catalog`, as pg_dump does, so every name the server
//! renders (`format_type`, `pg_get_expr`, `pg_get_viewdef`, ...) comes back schema-qualified
//! and the DDL built from it means the same thing in any database.

use std::collections::HashMap;

use tokio_postgres::{Client, Row};

use crate::error::{Error, Result};
use crate::postgres::connect::{DbUrl, quote_ident};

/// Everything lakeshift knows about some schemas of one database.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub schemas: Vec<String>,
    pub enums: Vec<EnumType>,
    pub domains: Vec<Domain>,
    pub sequences: Vec<Sequence>,
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    /// Views and materialized views, each after the views it reads.
    pub views: Vec<View>,
    pub functions: Vec<Function>,
    pub triggers: Vec<Trigger>,
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone)]
pub struct EnumType {
    pub schema: String,
    pub name: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub schema: String,
    pub name: String,
    /// The base type as `format_type` renders it, modifiers included.
    pub base_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub collation: Option<String>,
    /// `(name, definition)` of each CHECK constraint.
    pub checks: Vec<(String, String)>,
}

/// Options of a sequence (also those of an identity column's implicit sequence).
#[derive(Debug, Clone)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `(table, column)` for a sequence owned by a column (serial).
    pub owned_by: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub unlogged: bool,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `character varying(255)`, `numeric(12,2)`, `public.mood[]`.
    pub type_sql: String,
    pub type_oid: u32,
    /// The type's name without schema or modifiers (`varchar`, `numeric`, `_int4`, `mood`).
    pub type_name: String,
    /// `pg_type.typtype`: b(ase), e(num), d(omain), c(omposite), r(ange), m(ultirange).
    pub type_kind: char,
    /// For arrays, the element type's name; for domains, the base type's name.
    pub element_type: Option<String>,
    pub type_modifier: i32,
    pub not_null: bool,
    pub default: Option<String>,
    /// `a` = GENERATED ALWAYS AS IDENTITY, `d` = BY DEFAULT.
    pub identity: Option<char>,
    pub identity_sequence: Option<Sequence>,
    /// The expression of a `GENERATED ALWAYS AS (...) STORED` column.
    pub generated: Option<String>,
    pub collation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    Exclusion,
    ForeignKey,
}

#[derive(Debug, Clone)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// `pg_get_constraintdef`: `PRIMARY KEY (id)`, `FOREIGN KEY (a) REFERENCES public.t(id)`.
    pub definition: String,
    pub columns: Vec<String>,
    /// For a foreign key: the referenced `(schema, table)` and columns.
    pub references: Option<(String, String, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct Index {
    pub schema: String,
    pub name: String,
    pub definition: String,
}

#[derive(Debug, Clone)]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    pub definition: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Function {
    pub schema: String,
    pub name: String,
    pub identity_args: String,
    pub is_procedure: bool,
    pub definition: String,
    /// Reads a table or a table's row type, so it must be created after the tables.
    pub needs_tables: bool,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub definition: String,
    pub is_constraint: bool,
}

/// `COMMENT ON <object_kind> <identity> IS <text>`.
#[derive(Debug, Clone)]
pub struct Comment {
    pub object_kind: String,
    pub identity: String,
    pub text: String,
}

impl Table {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns of the primary key, in key order (empty without one).
    pub fn primary_key(&self) -> &[String] {
        self.constraints
            .iter()
            .find(|c| c.kind == ConstraintKind::PrimaryKey)
            .map_or(&[], |c| &c.columns)
    }

    pub fn foreign_keys(&self) -> impl Iterator<Item = &Constraint> {
        self.constraints
            .iter()
            .filter(|c| c.kind == ConstraintKind::ForeignKey)
    }
}

impl Catalog {
    /// Read the given schemas of the database at `url`.
    pub async fn load(url: &DbUrl, schemas: &[String]) -> Result<Self> {
        let client = url.connect().await?;
        Self::load_with(&client, url, schemas).await
    }

    /// Read the given schemas over an open connection, in one snapshot.
    pub async fn load_with(client: &Client, url: &DbUrl, schemas: &[String]) -> Result<Self> {
        let q = Queries { client, schemas };
        client
            .batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path = pg_catalog",
            )
            .await
            .map_err(|e| Error::pg("reading the catalog", &e))?;
        let loaded = q.load(url).await;
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| Error::pg("reading the catalog", &e))?;
        loaded
    }

    /// The table `name` (`table` or `schema.table`).
    pub fn table(&self, name: &str) -> Option<&Table> {
        let (schema, table) = split_name(name);
        self.tables
            .iter()
            .find(|t| t.name == table && schema.is_none_or(|s| s == t.schema))
    }

    /// Whether another table's foreign key references `table`.
    pub fn is_referenced(&self, table: &Table) -> bool {
        self.tables.iter().any(|t| {
            t.oid != table.oid
                && t.foreign_keys().any(|fk| {
                    fk.references
                        .as_ref()
                        .is_some_and(|(s, n, _)| (s, n) == (&table.schema, &table.name))
                })
        })
    }

    /// Tables ordered so that every table comes after the tables its foreign keys reference
    /// (self references and cycles are broken by name order).
    pub fn tables_in_fk_order(&self) -> Vec<&Table> {
        let mut done: Vec<&Table> = Vec::with_capacity(self.tables.len());
        let mut pending: Vec<&Table> = self.tables.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|t| {
                let ready = t.foreign_keys().all(|fk| {
                    let (s, n, _) = fk.references.as_ref().expect("foreign keys reference");
                    (s == &t.schema && n == &t.name)
                        || done.iter().any(|d| &d.schema == s && &d.name == n)
                        || !self.tables.iter().any(|x| &x.schema == s && &x.name == n)
                });
                if ready {
                    done.push(t);
                }
                !ready
            });
            if pending.len() == before {
                done.push(pending.remove(0));
            }
        }
        done
    }
}

/// `schema.table` -> `(Some(schema), table)`, `table` -> `(None, table)`.
pub fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once('.') {
        Some((s, t)) => (Some(s), t),
        None => (None, name),
    }
}

struct Queries<'a> {
    client: &'a Client,
    schemas: &'a [String],
}

impl Queries<'_> {
    async fn rows(&self, what: &str, sql: &str) -> Result<Vec<Row>> {
        self.client
            .query(sql, &[&self.schemas])
            .await
            .map_err(|e| Error::pg(format!("reading {what} from the catalog"), &e))
    }

    async fn load(&self, url: &DbUrl) -> Result<Catalog> {
        let found: Vec<String> = self
            .rows(
                "schemas",
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname",
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(missing) = self.schemas.iter().find(|s| !found.contains(s)) {
            return Err(Error::UnknownSchema {
                schema: missing.clone(),
                url: url.redacted(),
            });
        }
        let sequences = self.sequences().await?;
        let mut tables = self.tables().await?;
        self.attach_columns(&mut tables, &sequences).await?;
        self.attach_constraints(&mut tables).await?;
        Ok(Catalog {
            schemas: self.schemas.to_vec(),
            enums: self.enums().await?,
            domains: self.domains().await?,
            sequences: sequences
                .into_iter()
                .filter(|s| !s.1)
                .map(|s| s.0)
                .collect(),
            tables,
            indexes: self.indexes().await?,
            views: self.views().await?,
            functions: self.functions().await?,
            triggers: self.triggers().await?,
            comments: self.comments().await?,
        })
    }

    async fn enums(&self) -> Result<Vec<EnumType>> {
        let sql = "SELECT n.nspname, t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
            WHERE n.nspname = ANY($1) GROUP BY 1, 2 ORDER BY 1, 2";
        Ok(self
            .rows("enum types", sql)
            .await?
            .iter()
            .map(|r| EnumType {
                schema: r.get(0),
                name: r.get(1),
                labels: r.get(2),
            })
            .collect())
    }

    async fn domains(&self) -> Result<Vec<Domain>> {
        let sql = "SELECT n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
                CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                coalesce(array_agg(c.conname::text ORDER BY c.conname) FILTER (WHERE c.oid IS NOT NULL), '{}'),
                coalesce(array_agg(pg_get_constraintdef(c.oid) ORDER BY c.conname) FILTER (WHERE c.oid IS NOT NULL), '{}')
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            JOIN pg_type bt ON bt.oid = t.typbasetype
            LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            LEFT JOIN pg_constraint c ON c.contypid = t.oid AND c.contype = 'c'
            WHERE t.typtype = 'd' AND n.nspname = ANY($1)
            GROUP BY t.oid, n.nspname, t.typname, bt.typcollation, cn.nspname, co.collname ORDER BY t.oid";
        Ok(self
            .rows("domains", sql)
            .await?
            .iter()
            .map(|r| {
                let names: Vec<String> = r.get(6);
                let defs: Vec<String> = r.get(7);
                Domain {
                    schema: r.get(0),
                    name: r.get(1),
                    base_type: r.get(2),
                    not_null: r.get(3),
                    default: r.get(4),
                    collation: r.get(5),
                    checks: names.into_iter().zip(defs).collect(),
                }
            })
            .collect())
    }

    /// Every sequence of the schemas, flagged `true` when it belongs to an identity column.
    async fn sequences(&self) -> Result<Vec<(Sequence, bool)>> {
        let sql = "SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                s.seqmin, s.seqmax, s.seqcache, s.seqcycle, d.deptype::text, tn.nspname || '.' || t.relname, a.attname
            FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            LEFT JOIN pg_class t ON t.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE n.nspname = ANY($1) ORDER BY n.nspname, c.relname";
        Ok(self
            .rows("sequences", sql)
            .await?
            .iter()
            .map(|r| {
                let deptype: Option<String> = r.get(9);
                let owner: Option<String> = r.get(10);
                let column: Option<String> = r.get(11);
                let seq = Sequence {
                    schema: r.get(0),
                    name: r.get(1),
                    data_type: r.get(2),
                    start: r.get(3),
                    increment: r.get(4),
                    min: r.get(5),
                    max: r.get(6),
                    cache: r.get(7),
                    cycle: r.get(8),
                    owned_by: owner.zip(column),
                };
                (seq, deptype.as_deref() == Some("i"))
            })
            .collect())
    }

    async fn tables(&self) -> Result<Vec<Table>> {
        let sql = "SELECT c.oid, n.nspname, c.relname, c.relpersistence = 'u', c.relkind::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY n.nspname, c.relname";
        let mut tables = Vec::new();
        for r in self.rows("tables", sql).await? {
            let (schema, name, kind): (String, String, String) = (r.get(1), r.get(2), r.get(4));
            if kind == "p" {
                return Err(Error::UnsupportedType {
                    table: format!("{schema}.{name}"),
                    column: "*".into(),
                    reason: "partitioned tables are not supported yet".into(),
                });
            }
            tables.push(Table {
                oid: r.get(0),
                schema,
                name,
                unlogged: r.get(3),
                columns: Vec::new(),
                constraints: Vec::new(),
            });
        }
        Ok(tables)
    }

    async fn attach_columns(
        &self,
        tables: &mut [Table],
        sequences: &[(Sequence, bool)],
    ) -> Result<()> {
        let sql = "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, t.typname,
                t.typtype::text, coalesce(et.typname, bt.typname), a.atttypmod, a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity, '')::text, nullif(a.attgenerated, '')::text,
                CASE WHEN a.attcollation <> t.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
            LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            WHERE n.nspname = ANY($1) AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum";
        let by_oid: HashMap<u32, usize> =
            tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
        for r in self.rows("columns", sql).await? {
            let Some(&i) = by_oid.get(&r.get::<_, u32>(0)) else {
                continue;
            };
            let table = &mut tables[i];
            let name: String = r.get(1);
            let identity: Option<String> = r.get(10);
            let generated: Option<String> = r.get(11);
            let default: Option<String> = r.get(9);
            let owner = format!("{}.{}", table.schema, table.name);
            let identity_sequence = identity.as_ref().and_then(|_| {
                sequences
                    .iter()
                    .find(|(s, ident)| {
                        *ident && s.owned_by.as_ref() == Some(&(owner.clone(), name.clone()))
                    })
                    .map(|(s, _)| s.clone())
            });
            let kind: String = r.get(5);
            table.columns.push(Column {
                name,
                type_sql: r.get(2),
                type_oid: r.get(3),
                type_name: r.get(4),
                type_kind: kind.chars().next().unwrap_or('b'),
                element_type: r.get(6),
                type_modifier: r.get(7),
                not_null: r.get(8),
                default: if generated.is_some() {
                    None
                } else {
                    default.clone()
                },
                identity: identity.and_then(|s| s.chars().next()),
                identity_sequence,
                generated: generated.and(default),
                collation: r.get(12),
            });
        }
        Ok(())
    }

    async fn attach_constraints(&self, tables: &mut [Table]) -> Result<()> {
        let sql = "SELECT con.conrelid, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
                fn.nspname, fc.relname,
                ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)
            FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class fc ON fc.oid = con.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
            WHERE n.nspname = ANY($1) AND con.contype IN ('p', 'u', 'c', 'x', 'f')
            ORDER BY con.conrelid, con.contype, con.conname";
        let by_oid: HashMap<u32, usize> =
            tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
        for r in self.rows("constraints", sql).await? {
            let Some(&i) = by_oid.get(&r.get::<_, u32>(0)) else {
                continue;
            };
            let kind = match r.get::<_, String>(2).as_str() {
                "p" => ConstraintKind::PrimaryKey,
                "u" => ConstraintKind::Unique,
                "c" => ConstraintKind::Check,
                "x" => ConstraintKind::Exclusion,
                _ => ConstraintKind::ForeignKey,
            };
            let ref_schema: Option<String> = r.get(5);
            let ref_table: Option<String> = r.get(6);
            tables[i].constraints.push(Constraint {
                name: r.get(1),
                kind,
                definition: r.get(3),
                columns: r.get(4),
                references: ref_schema.zip(ref_table).map(|(s, t)| (s, t, r.get(7))),
            });
        }
        Ok(())
    }

    async fn indexes(&self) -> Result<Vec<Index>> {
        let sql = "SELECT n.nspname, ic.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
            JOIN pg_class tc ON tc.oid = i.indrelid
            WHERE n.nspname = ANY($1) AND tc.relkind IN ('r', 'm')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
            ORDER BY n.nspname, ic.relname";
        Ok(self
            .rows("indexes", sql)
            .await?
            .iter()
            .map(|r| Index {
                schema: r.get(0),
                name: r.get(1),
                definition: r.get(2),
            })
            .collect())
    }

    async fn views(&self) -> Result<Vec<View>> {
        let sql = "SELECT c.oid, n.nspname, c.relname, c.relkind = 'm', pg_get_viewdef(c.oid),
                coalesce(c.reloptions, '{}'),
                ARRAY(SELECT DISTINCT d.refobjid FROM pg_rewrite rw
                      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                       AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid
                      WHERE rw.ev_class = c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND c.relkind IN ('v', 'm') ORDER BY n.nspname, c.relname";
        let mut pending: Vec<(u32, Vec<u32>, View)> = self
            .rows("views", sql)
            .await?
            .iter()
            .map(|r| {
                let definition: String = r.get(4);
                let view = View {
                    schema: r.get(1),
                    name: r.get(2),
                    materialized: r.get(3),
                    definition: definition.trim().trim_end_matches(';').to_string(),
                    options: r.get(5),
                };
                (r.get(0), r.get(6), view)
            })
            .collect();
        // Topological order: a view is ready once every view it reads has been placed.
        let mut placed: Vec<u32> = Vec::new();
        let mut ordered = Vec::new();
        while !pending.is_empty() {
            let all: Vec<u32> = pending.iter().map(|p| p.0).collect();
            let ready = pending.iter().position(|(_, deps, _)| {
                deps.iter().all(|d| !all.contains(d) || placed.contains(d))
            });
            let (oid, _, view) = pending.remove(ready.unwrap_or(0));
            placed.push(oid);
            ordered.push(view);
        }
        Ok(ordered)
    }

    async fn functions(&self) -> Result<Vec<Function>> {
        let sql = "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind = 'p',
                pg_get_functiondef(p.oid),
                EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND (d.refclassid = 'pg_class'::regclass
                             OR (d.refclassid = 'pg_type'::regclass
                                 AND EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = d.refobjid AND t.typrelid <> 0))))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY($1) AND p.prokind IN ('f', 'p', 'w')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype = 'e')
            ORDER BY n.nspname, p.proname, p.oid";
        Ok(self
            .rows("functions", sql)
            .await?
            .iter()
            .map(|r| Function {
                schema: r.get(0),
                name: r.get(1),
                identity_args: r.get(2),
                is_procedure: r.get(3),
                definition: r.get::<_, String>(4).trim_end().to_string(),
                needs_tables: r.get(5),
            })
            .collect())
    }

    async fn triggers(&self) -> Result<Vec<Trigger>> {
        let sql = "SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgconstraint <> 0
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND NOT t.tgisinternal ORDER BY n.nspname, c.relname, t.tgname";
        Ok(self
            .rows("triggers", sql)
            .await?
            .iter()
            .map(|r| Trigger {
                schema: r.get(0),
                table: r.get(1),
                name: r.get(2),
                definition: r.get(3),
                is_constraint: r.get(4),
            })
            .collect())
    }

    async fn comments(&self) -> Result<Vec<Comment>> {
        let sql = "SELECT o.type, o.identity, d.description
            FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
            WHERE coalesce(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END) = ANY($1)
            ORDER BY o.type, o.identity";
        let mut comments = Vec::new();
        for r in self.rows("comments", sql).await? {
            let (kind, identity): (String, String) = (r.get(0), r.get(1));
            let (object_kind, identity) = match kind.as_str() {
                "table column" | "view column" | "materialized view column" => {
                    ("COLUMN".to_string(), identity)
                }
                "table constraint" | "trigger" | "domain constraint" => {
                    let keyword = if kind == "trigger" {
                        "TRIGGER"
                    } else {
                        "CONSTRAINT"
                    };
                    let on = if kind == "domain constraint" {
                        " ON DOMAIN "
                    } else {
                        " ON "
                    };
                    let Some((name, table)) = identity.split_once(" on ") else {
                        continue;
                    };
                    (keyword.to_string(), format!("{name}{on}{table}"))
                }
                "table" | "view" | "materialized view" | "sequence" | "index" | "function"
                | "procedure" | "schema" | "type" | "domain" => (kind.to_uppercase(), identity),
                _ => continue,
            };
            comments.push(Comment {
                object_kind,
                identity,
                text: r.get(2),
            });
        }
        Ok(comments)
    }
}
