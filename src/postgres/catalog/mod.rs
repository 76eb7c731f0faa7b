//! Introspection: what a set of Postgres schemas contains, read from the system catalogs in
//! one repeatable-read snapshot. Tables (columns, keys, partitions), sequences, indexes,
//! views and comments are read here ([`queries`]); types and collations in [`types`];
//! functions and aggregates in [`routines`]; triggers, rules, policies and statistics in
//! [`table_objects`]; publications, subscriptions and event triggers in
//! [`database_objects`]; foreign data wrappers, servers and tables in [`foreign`];
//! operators, their classes and families, casts and conversions in [`operators`]; text
//! search in [`text_search`]; tablespaces relations are stored in [`tablespaces`]; owners
//! and privileges in [`access`].
//!
//! Queries run with `search_path = pg_catalog`, as pg_dump does, so every name the server
//! renders (`format_type`, `pg_get_expr`, `pg_get_viewdef`, ...) comes back schema-qualified
//! and the DDL built from it means the same thing in any database.

mod access;
mod database_objects;
mod foreign;
mod operators;
mod queries;
mod routines;
mod table_objects;
mod tablespaces;
mod text_search;
mod types;

pub use access::{Access, DefaultPrivileges, Grant, ObjectAccess};
pub use database_objects::{EventTrigger, Language, Publication, PublishedTable, Subscription};
pub use foreign::{ForeignDataWrapper, ForeignServer, ForeignTable, UserMapping};
pub use operators::{Cast, Conversion, Operator, OperatorClass, OperatorFamily};
pub use routines::{Aggregate, Function};
pub use table_objects::{Firing, Policy, Rule, Statistics, Trigger};
pub use tablespaces::Placement;
pub use text_search::{
    TextSearchConfiguration, TextSearchDictionary, TextSearchParser, TextSearchTemplate,
};
pub use types::{Collation, CompositeType, Domain, EnumType, RangeType};

use tokio_postgres::Transaction;

use crate::error::{Error, Result};
use crate::postgres::connect::{DbUrl, quote_ident};

/// Everything lakeshift knows about some schemas of one database.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub schemas: Vec<String>,
    /// Extensions the schemas' objects use (or that live in them), but plpgsql.
    pub extensions: Vec<Extension>,
    /// Procedural languages no extension brings (whole-database catalogs only).
    pub languages: Vec<Language>,
    pub collations: Vec<Collation>,
    pub enums: Vec<EnumType>,
    pub domains: Vec<Domain>,
    pub composite_types: Vec<CompositeType>,
    pub range_types: Vec<RangeType>,
    pub sequences: Vec<Sequence>,
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    /// Views and materialized views, each after the views it reads.
    pub views: Vec<View>,
    pub functions: Vec<Function>,
    pub aggregates: Vec<Aggregate>,
    pub operators: Vec<Operator>,
    pub operator_families: Vec<OperatorFamily>,
    pub operator_classes: Vec<OperatorClass>,
    pub casts: Vec<Cast>,
    pub conversions: Vec<Conversion>,
    pub text_search_parsers: Vec<TextSearchParser>,
    pub text_search_templates: Vec<TextSearchTemplate>,
    pub text_search_dictionaries: Vec<TextSearchDictionary>,
    pub text_search_configurations: Vec<TextSearchConfiguration>,
    pub triggers: Vec<Trigger>,
    pub rules: Vec<Rule>,
    pub statistics: Vec<Statistics>,
    pub foreign_data_wrappers: Vec<ForeignDataWrapper>,
    pub foreign_servers: Vec<ForeignServer>,
    /// Their definitions only: their rows live on their servers.
    pub foreign_tables: Vec<ForeignTable>,
    pub publications: Vec<Publication>,
    pub subscriptions: Vec<Subscription>,
    pub event_triggers: Vec<EventTrigger>,
    pub comments: Vec<Comment>,
    pub security_labels: Vec<SecurityLabel>,
    /// The tablespaces of relations stored outside the database's default one (tablespaces
    /// belong to the cluster: `--no-tablespaces` leaves these out).
    pub placements: Vec<Placement>,
    /// Policies, owners and privileges of every object above and of the schemas, default
    /// privileges.
    pub access: Access,
}

#[derive(Debug, Clone)]
pub struct Extension {
    pub name: String,
    pub schema: String,
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

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub unlogged: bool,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    /// A partitioned table's key, as `pg_get_partkeydef` renders it: `RANGE (created_at)`.
    pub partition_key: Option<String>,
    /// A partition's parent and bound (`FOR VALUES FROM (..) TO (..)`, `DEFAULT`).
    pub partition_of: Option<PartitionOf>,
    /// The parents of a legacy `INHERITS` child, in declaration order.
    pub inherits: Vec<QualifiedName>,
    /// `REPLICA IDENTITY`: `d`efault, `n`othing, `f`ull or `i`ndex (see `replica_index`).
    pub replica_identity: char,
    pub replica_index: Option<String>,
    /// `ENABLE ROW LEVEL SECURITY`, and `FORCE` (the owner is held to the policies too).
    pub row_security: bool,
    pub force_row_security: bool,
    /// `ALTER TABLE` actions that set what differs from the defaults: storage parameters
    /// (`SET (fillfactor = '70')`, `toast.` ones), and columns' statistics targets, storage,
    /// compression and options.
    pub settings: Vec<String>,
}

/// `(schema, name)` of a relation.
pub type QualifiedName = (String, String);

#[derive(Debug, Clone)]
pub struct PartitionOf {
    pub parent: QualifiedName,
    pub bound: String,
}

#[derive(Debug, Clone, Default)]
pub struct Column {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `character varying(255)`, `numeric(12,2)`, `public.mood[]`.
    pub type_sql: String,
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
    /// Declared by the table itself (not only inherited from a parent or a partitioned table).
    pub local: bool,
    /// Its type (or a domain's base type) has a cast from text of the database's own, which
    /// `text::type` would call: values that travel as text are converted by the type's
    /// input function instead (see `postgres::write`).
    pub cast_from_text: bool,
    /// Holds values its Arrow type cannot carry (NaN in a `numeric(p,s)`, an array of several
    /// dimensions): read and written as its text form. Set before or during a read
    /// ([`crate::postgres::source::ValueCheck`]).
    pub irregular: bool,
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
    /// Comes with a parent's constraint (a partition's copy of a partitioned table's key, an
    /// inherited check): created by the parent's, not on its own.
    pub inherited: bool,
    /// For a partition's key or unique constraint: the parent's index it is attached to.
    pub attached_to: Option<QualifiedName>,
}

#[derive(Debug, Clone)]
pub struct Index {
    pub schema: String,
    pub name: String,
    pub definition: String,
    /// The indexed table (or materialized view), in the index's schema.
    pub table: String,
    /// For a partition's index: the partitioned table's index it is attached to.
    pub attached_to: Option<QualifiedName>,
}

#[derive(Debug, Clone)]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    pub definition: String,
    pub options: Vec<String>,
}

/// `COMMENT ON <object_kind> <identity> IS <text>`.
#[derive(Debug, Clone)]
pub struct Comment {
    pub object_kind: String,
    pub identity: String,
    pub text: String,
}

/// `SECURITY LABEL FOR <provider> ON <object_kind> <identity> IS <label>`.
#[derive(Debug, Clone)]
pub struct SecurityLabel {
    pub object_kind: String,
    pub identity: String,
    pub provider: String,
    pub label: String,
}

impl Table {
    /// `schema.table` without quotes: for messages, labels, reports and file names.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    pub fn is_partitioned(&self) -> bool {
        self.partition_key.is_some()
    }

    /// Read `column` as its text form from now on; false when it already is (or is not a
    /// column of this table), so a read is never retried for the same column twice.
    pub fn mark_irregular(&mut self, column: &str) -> bool {
        let table = self.full_name();
        match self.columns.iter_mut().find(|c| c.name == column) {
            Some(c) if !c.irregular => {
                tracing::info!(
                    table,
                    column,
                    "holds values its Arrow type cannot carry: read as text"
                );
                c.irregular = true;
                true
            }
            _ => false,
        }
    }

    /// The table in a `FROM` clause: its own rows and, when partitioned, its partitions'
    /// (a legacy inheritance parent's children are tables of their own, as for pg_dump).
    pub fn from_clause(&self) -> String {
        if self.is_partitioned() {
            self.qualified()
        } else {
            format!("ONLY {}", self.qualified())
        }
    }

    /// The relations this one is created after: its partition parent and inherited parents.
    pub fn parents(&self) -> impl Iterator<Item = &QualifiedName> {
        self.partition_of
            .iter()
            .map(|p| &p.parent)
            .chain(self.inherits.iter())
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
    /// The schemas of `url` but the system ones (`pg_*`, `information_schema`), sorted: what
    /// pg_dump dumps by default.
    pub async fn user_schemas(url: &DbUrl) -> Result<Vec<String>> {
        let client = url.connect().await?;
        let rows = client
            .query(
                "SELECT nspname::text FROM pg_namespace
                 WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| Error::pg("listing the schemas", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Read the given schemas of the database at `url`, in one snapshot; a schema that does
    /// not exist is an error.
    pub async fn load(url: &DbUrl, schemas: &[String]) -> Result<Self> {
        Self::read(url, schemas, true).await
    }

    /// Like [`Catalog::load`], but the schemas that do not exist are left out.
    pub async fn load_existing(url: &DbUrl, schemas: &[String]) -> Result<Self> {
        Self::read(url, schemas, false).await
    }

    async fn read(url: &DbUrl, schemas: &[String], require_all: bool) -> Result<Self> {
        let mut client = url.connect().await?;
        let tx = Self::snapshot(&mut client).await?;
        Self::query(&tx, url, schemas, require_all).await
    }

    /// A read-only transaction in one snapshot, for [`Catalog::load_in`] and whatever else
    /// must describe the same catalog.
    pub async fn snapshot(client: &mut tokio_postgres::Client) -> Result<Transaction<'_>> {
        client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| Error::pg("reading the catalog", e))
    }

    /// Read the given schemas as `tx` sees them (its own uncommitted tables included).
    /// Leaves `search_path = pg_catalog` set for the rest of the transaction.
    pub async fn load_in(tx: &Transaction<'_>, url: &DbUrl, schemas: &[String]) -> Result<Self> {
        Self::query(tx, url, schemas, true).await
    }

    async fn query(
        tx: &Transaction<'_>,
        url: &DbUrl,
        schemas: &[String],
        require_all: bool,
    ) -> Result<Self> {
        tx.batch_execute("SET LOCAL search_path = pg_catalog")
            .await
            .map_err(|e| Error::pg("reading the catalog", e))?;
        queries::Queries {
            client: tx,
            schemas,
            require_all,
        }
        .load(url)
        .await
    }

    /// Enum type names and their labels, as [`crate::postgres::types::PgKind::of`] wants them.
    pub fn enum_labels(&self) -> std::collections::HashMap<String, Vec<String>> {
        self.enums
            .iter()
            .map(|e| (e.name.clone(), e.labels.clone()))
            .collect()
    }

    /// The table `name` in `schema`, exactly.
    pub fn table_in(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// The table `name` names (`table`, `schema.table`, quoted parts as in `pg_dump -t`); a
    /// name that only makes sense whole (`../odd`, `a.b`) is looked for as written too.
    pub fn table(&self, name: &str) -> Option<&Table> {
        let (schema, table) = split_name(name);
        self.tables
            .iter()
            .find(|t| t.name == table && schema.as_ref().is_none_or(|s| *s == t.schema))
            .or_else(|| self.tables.iter().find(|t| t.name == name))
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

    /// What to empty for `table`: the table, or, when some of its partitions are foreign
    /// tables (whose rows live on another server and stay there), each of its own leaf
    /// partitions.
    pub fn local_heaps(&self, table: &Table) -> Vec<String> {
        let foreign = self.foreign_tables.iter().any(|f| {
            f.partition_of
                .as_ref()
                .is_some_and(|p| self.is_within(&p.parent, table))
        });
        if !foreign {
            return vec![table.from_clause()];
        }
        self.tables
            .iter()
            .filter(|t| !t.is_partitioned() && self.is_partition_of(t, table))
            .map(|t| t.from_clause())
            .collect()
    }

    /// Whether the relation `name` is `root` or one of its partitions, at any depth.
    fn is_within(&self, name: &QualifiedName, root: &Table) -> bool {
        (&name.0, &name.1) == (&root.schema, &root.name)
            || self
                .tables
                .iter()
                .find(|t| (&t.schema, &t.name) == (&name.0, &name.1))
                .is_some_and(|t| self.is_partition_of(t, root))
    }

    /// Whether `table` is a partition of `root`, at any depth.
    pub fn is_partition_of(&self, table: &Table, root: &Table) -> bool {
        let mut parent = table.partition_of.as_ref().map(|p| &p.parent);
        while let Some((schema, name)) = parent {
            if (schema, name) == (&root.schema, &root.name) {
                return true;
            }
            parent = self
                .tables
                .iter()
                .find(|t| (&t.schema, &t.name) == (schema, name))
                .and_then(|t| t.partition_of.as_ref().map(|p| &p.parent));
        }
        false
    }

    /// Tables ordered so that each comes after its partition parent and inherited parents:
    /// the order they can be created in.
    pub fn tables_in_creation_order(&self) -> Vec<&Table> {
        self.ordered(|_| false)
    }

    /// Tables ordered so that every table comes after its parents and the tables its foreign
    /// keys reference (self references and cycles are broken by name order): the order
    /// they can be loaded in.
    pub fn tables_in_fk_order(&self) -> Vec<&Table> {
        self.ordered(|_| true)
    }

    /// Topological order over parents, and over foreign keys where `follow_fks` says so.
    fn ordered(&self, follow_fks: impl Fn(&Table) -> bool) -> Vec<&Table> {
        let mut done: Vec<&Table> = Vec::with_capacity(self.tables.len());
        let mut pending: Vec<&Table> = self.tables.iter().collect();
        let placed = |done: &[&Table], (s, n): (&String, &String)| {
            done.iter().any(|d| &d.schema == s && &d.name == n)
                || !self.tables.iter().any(|x| &x.schema == s && &x.name == n)
        };
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|t| {
                let parents_ready = t.parents().all(|(s, n)| placed(&done, (s, n)));
                let fks_ready = !follow_fks(t)
                    || t.foreign_keys().all(|fk| {
                        let (s, n, _) = fk.references.as_ref().expect("foreign keys reference");
                        (s == &t.schema && n == &t.name) || placed(&done, (s, n))
                    });
                let ready = parents_ready && fks_ready;
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

/// `schema.table` -> `(Some(schema), table)`, `table` -> `(None, table)`, as `pg_dump -t`
/// reads them: either part may be double-quoted (`public."../odd.name"`, `""` for a quote
/// inside), and the first dot outside quotes separates them. Unquoted parts are taken as
/// written; text that is not a well-formed quoted name is taken literally.
pub fn split_name(name: &str) -> (Option<String>, String) {
    let (first, rest) = match identifier(name) {
        Some(parsed) => parsed,
        None => return (None, name.to_string()),
    };
    match rest.strip_prefix('.') {
        None if rest.is_empty() => (None, first),
        Some(second) => match identifier(second) {
            Some((table, "")) => (Some(first), table),
            _ => (Some(first), second.to_string()),
        },
        None => (None, name.to_string()),
    }
}

/// One identifier at the start of `text` and what follows it: a quoted one, or unquoted
/// text up to the first dot.
fn identifier(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find('.').unwrap_or(text.len());
        return Some((text[..end].to_string(), &text[end..]));
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            if chars.peek().is_some_and(|&(_, n)| n == '"') {
                chars.next();
                out.push('"');
            } else {
                return Some((out, &quoted[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}
