//! The catalog queries behind [`super::Catalog::load`], one per kind of object.

use std::collections::HashMap;

use tokio_postgres::{GenericClient, Row};

use super::{
    Access, Catalog, Column, Comment, Constraint, ConstraintKind, Extension, Index, PartitionOf,
    QualifiedName, SecurityLabel, Sequence, Table, View,
};
use crate::error::{Error, Result};
use crate::postgres::connect::{DbUrl, quote_ident};

/// True when the query's schemas (`$1`) are every user schema of the database: a catalog of
/// the whole database, which takes the objects that belong to no schema (pg_dump's rule).
pub(super) const WHOLE_DATABASE: &str = "NOT EXISTS (SELECT 1 FROM pg_namespace x
    WHERE x.nspname !~ '^pg_' AND x.nspname <> 'information_schema' AND NOT x.nspname = ANY($1))";

/// True for an object (of catalog `class`, an SQL expression) an extension did not create:
/// the extension brings it back.
pub(super) fn not_in_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = {class}
             AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

/// The `ALTER TABLE` actions that give table `c` its storage parameters and its columns'
/// settings where they differ from the defaults (see [`Table::settings`]).
/// (`pg_attver`, in some 15.x builds' column options, is a stamp the server keeps itself and
/// ignores when set, as pg_dump leaves it out.)
const SETTINGS: &str = "ARRAY(
    SELECT 'SET (' || array_to_string(ARRAY(SELECT quote_ident(option_name) || ' = ' || quote_literal(option_value)
                                          FROM pg_options_to_table(c.reloptions)), ', ') || ')'
    WHERE c.reloptions IS NOT NULL
  UNION ALL
    SELECT 'SET (' || array_to_string(ARRAY(SELECT 'toast.' || quote_ident(option_name) || ' = ' || quote_literal(option_value)
                                          FROM pg_options_to_table(tc.reloptions)), ', ') || ')'
    FROM pg_class tc WHERE tc.oid = c.reltoastrelid AND tc.reloptions IS NOT NULL
  UNION ALL
    SELECT 'ALTER COLUMN ' || quote_ident(a.attname) || s.action
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid,
    LATERAL (
        SELECT ' SET STATISTICS ' || a.attstattarget AS action WHERE a.attstattarget >= 0
      UNION ALL
        SELECT ' SET STORAGE ' || CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL'
                                  WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END
        WHERE a.attstorage <> t.typstorage
      UNION ALL
        SELECT ' SET COMPRESSION ' || CASE a.attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END
        WHERE a.attcompression::text <> ''
      UNION ALL
        SELECT ' SET (' || string_agg(quote_ident(option_name) || ' = ' || quote_literal(option_value), ', ') || ')'
        FROM pg_options_to_table(a.attoptions) WHERE option_name <> 'pg_attver'
        HAVING count(*) > 0) s
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)";

pub(crate) struct Queries<'a, C> {
    pub(super) client: &'a C,
    pub(super) schemas: &'a [String],
    /// A schema that does not exist is an error (otherwise it is left out).
    pub(super) require_all: bool,
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn rows(&self, what: &str, sql: &str) -> Result<Vec<Row>> {
        self.client
            .query(sql, &[&self.schemas])
            .await
            .map_err(|e| Error::pg(format!("reading {what} from the catalog"), e))
    }

    pub(super) async fn load(&self, url: &DbUrl) -> Result<Catalog> {
        let found: Vec<String> = self
            .rows(
                "schemas",
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname",
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let missing = self.schemas.iter().find(|s| !found.contains(s));
        if let Some(missing) = missing.filter(|_| self.require_all) {
            return Err(Error::UnknownSchema {
                schema: missing.clone(),
                url: url.redacted(),
            });
        }
        let publications = self.publications().await?;
        let subscriptions = self.subscriptions().await?;
        let foreign_data_wrappers = self.foreign_data_wrappers().await?;
        let foreign_servers = self.foreign_servers().await?;
        let user_mappings = self.user_mappings(&foreign_servers).await?;
        let mut objects = self.access().await?;
        // The owners and privileges of the objects of the database read (the query lists all).
        let named = |name: &String, a: &super::ObjectAccess| quote_ident(name) == a.identity;
        objects.retain(|a| match a.kind.as_str() {
            "PUBLICATION" => publications.iter().any(|p| named(&p.name, a)),
            "SUBSCRIPTION" => subscriptions.iter().any(|s| named(&s.name, a)),
            "FOREIGN DATA WRAPPER" => foreign_data_wrappers.iter().any(|w| named(&w.name, a)),
            "SERVER" => foreign_servers.iter().any(|s| named(&s.name, a)),
            _ => true,
        });
        let sequences = self.sequences().await?;
        let mut tables = self.tables().await?;
        self.attach_columns(&mut tables, &sequences).await?;
        self.attach_constraints(&mut tables).await?;
        Ok(Catalog {
            schemas: self
                .schemas
                .iter()
                .filter(|s| found.contains(s))
                .cloned()
                .collect(),
            extensions: self.extensions().await?,
            languages: self.languages().await?,
            collations: self.collations().await?,
            enums: self.enums().await?,
            domains: self.domains().await?,
            composite_types: self.composite_types().await?,
            range_types: self.range_types().await?,
            sequences: sequences
                .into_iter()
                .filter(|s| !s.1)
                .map(|s| s.0)
                .collect(),
            tables,
            indexes: self.indexes().await?,
            views: self.views().await?,
            functions: self.functions().await?,
            aggregates: self.aggregates().await?,
            operators: self.operators().await?,
            operator_families: self.operator_families().await?,
            operator_classes: self.operator_classes().await?,
            casts: self.casts().await?,
            conversions: self.conversions().await?,
            text_search_parsers: self.text_search_parsers().await?,
            text_search_templates: self.text_search_templates().await?,
            text_search_dictionaries: self.text_search_dictionaries().await?,
            text_search_configurations: self.text_search_configurations().await?,
            triggers: self.triggers().await?,
            rules: self.rules().await?,
            statistics: self.statistics().await?,
            publications,
            subscriptions,
            foreign_data_wrappers,
            foreign_servers,
            foreign_tables: self.foreign_tables().await?,
            event_triggers: self.event_triggers().await?,
            comments: self.comments().await?,
            security_labels: self.security_labels().await?,
            placements: self.placements().await?,
            access: Access {
                policies: self.policies().await?,
                user_mappings,
                objects,
                default_privileges: self.default_privileges().await?,
            },
        })
    }

    async fn extensions(&self) -> Result<Vec<Extension>> {
        // An extension is needed when it lives in one of the schemas, or when an object of
        // theirs (a column type, a default, a view, a function) depends on one of its members.
        let sql = format!(
            "SELECT e.extname::text, n.nspname::text
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname <> 'plpgsql' AND (n.nspname = ANY($1) OR EXISTS (
                SELECT 1 FROM pg_depend m
                JOIN pg_depend d ON d.refclassid = m.classid AND d.refobjid = m.objid AND d.deptype = 'n'
                WHERE m.refclassid = 'pg_extension'::regclass AND m.refobjid = e.oid AND m.deptype = 'e'
                  AND (SELECT nspname FROM pg_namespace WHERE oid = CASE d.classid
                        WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = d.objid)
                        WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a
                             JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
                        WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite r
                             JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
                        WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = d.objid)
                        WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = d.objid)
                      END) = ANY($1))
                -- a foreign data wrapper of the extension's that a server of the catalog uses
                OR EXISTS (SELECT 1 FROM pg_depend m JOIN pg_foreign_server s ON s.srvfdw = m.objid
                    WHERE m.classid = 'pg_foreign_data_wrapper'::regclass AND m.refclassid = 'pg_extension'::regclass
                      AND m.refobjid = e.oid AND m.deptype = 'e'
                      AND ({WHOLE_DATABASE}
                           OR EXISTS (SELECT 1 FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
                               JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE ft.ftserver = s.oid AND n.nspname = ANY($1)))))
            ORDER BY 1"
        );
        Ok(self
            .rows("extensions", &sql)
            .await?
            .iter()
            .map(|r| Extension {
                name: r.get(0),
                schema: r.get(1),
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
            WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass
                  AND x.objid = c.oid AND x.deptype = 'e') ORDER BY n.nspname, c.relname";
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
        let sql = format!("SELECT c.oid, n.nspname, c.relname, c.relpersistence = 'u',
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
                CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
                ARRAY(SELECT pn.nspname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                      JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid ORDER BY i.inhseqno),
                ARRAY(SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                      WHERE i.inhrelid = c.oid ORDER BY i.inhseqno),
                c.relreplident::text,
                (SELECT ic.relname FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
                 WHERE x.indrelid = c.oid AND x.indisreplident),
                c.relrowsecurity, c.relforcerowsecurity, {SETTINGS}
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY n.nspname, c.relname");
        let mut tables = Vec::new();
        for r in self.rows("tables", &sql).await? {
            let bound: Option<String> = r.get(5);
            let parent_schemas: Vec<String> = r.get(6);
            let parent_names: Vec<String> = r.get(7);
            let mut parents: Vec<QualifiedName> =
                parent_schemas.into_iter().zip(parent_names).collect();
            let partition_of = match bound {
                Some(bound) if !parents.is_empty() => Some(PartitionOf {
                    parent: parents.remove(0),
                    bound,
                }),
                _ => None,
            };
            let replica: String = r.get(8);
            tables.push(Table {
                oid: r.get(0),
                schema: r.get(1),
                name: r.get(2),
                unlogged: r.get(3),
                columns: Vec::new(),
                constraints: Vec::new(),
                partition_key: r.get(4),
                partition_of,
                inherits: parents,
                replica_identity: replica.chars().next().unwrap_or('d'),
                replica_index: r.get(9),
                row_security: r.get(10),
                force_row_security: r.get(11),
                settings: r.get(12),
            });
        }
        Ok(tables)
    }

    async fn attach_columns(
        &self,
        tables: &mut [Table],
        sequences: &[(Sequence, bool)],
    ) -> Result<()> {
        let sql = "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
                t.typtype::text, coalesce(et.typname, bt.typname), a.atttypmod, a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity, '')::text, nullif(a.attgenerated, '')::text,
                CASE WHEN a.attcollation <> t.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                a.attislocal,
                EXISTS (SELECT 1 FROM pg_cast k WHERE k.castsource = 'text'::regtype
                        AND k.casttarget IN (a.atttypid, t.typbasetype))
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
            LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum";
        let by_oid: HashMap<u32, usize> =
            tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
        for r in self.rows("columns", sql).await? {
            let Some(&i) = by_oid.get(&r.get::<_, u32>(0)) else {
                continue;
            };
            let table = &mut tables[i];
            let name: String = r.get(1);
            let identity: Option<String> = r.get(9);
            let generated: Option<String> = r.get(10);
            let default: Option<String> = r.get(8);
            let owner = table.full_name();
            let identity_sequence = identity.as_ref().and_then(|_| {
                sequences
                    .iter()
                    .find(|(s, ident)| {
                        *ident && s.owned_by.as_ref() == Some(&(owner.clone(), name.clone()))
                    })
                    .map(|(s, _)| s.clone())
            });
            let kind: String = r.get(4);
            table.columns.push(Column {
                name,
                type_sql: r.get(2),
                type_name: r.get(3),
                type_kind: kind.chars().next().unwrap_or('b'),
                element_type: r.get(5),
                type_modifier: r.get(6),
                not_null: r.get(7),
                default: if generated.is_some() {
                    None
                } else {
                    default.clone()
                },
                identity: identity.and_then(|s| s.chars().next()),
                identity_sequence,
                generated: generated.and(default),
                collation: r.get(11),
                local: r.get(12),
                cast_from_text: r.get(13),
                irregular: false,
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
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o),
                (con.contype = 'f' AND con.conparentid <> 0) OR (con.contype = 'c' AND NOT con.conislocal),
                pin.nspname, pic.relname
            FROM pg_constraint con
            LEFT JOIN pg_inherits ih ON con.conparentid <> 0 AND con.contype IN ('p', 'u', 'x') AND ih.inhrelid = con.conindid
            LEFT JOIN pg_class pic ON pic.oid = ih.inhparent LEFT JOIN pg_namespace pin ON pin.oid = pic.relnamespace JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
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
                inherited: r.get(8),
                attached_to: r.get::<_, Option<String>>(9).zip(r.get(10)),
            });
        }
        Ok(())
    }

    async fn indexes(&self) -> Result<Vec<Index>> {
        let sql = "SELECT n.nspname, ic.relname, pg_get_indexdef(i.indexrelid), tc.relname, pn.nspname, pc.relname
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
            JOIN pg_class tc ON tc.oid = i.indrelid
            LEFT JOIN pg_inherits ih ON ih.inhrelid = i.indexrelid
            LEFT JOIN pg_class pc ON pc.oid = ih.inhparent LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
            WHERE n.nspname = ANY($1) AND tc.relkind IN ('r', 'm', 'p')
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
                table: r.get(3),
                attached_to: r.get::<_, Option<String>>(4).zip(r.get(5)),
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
            WHERE n.nspname = ANY($1) AND c.relkind IN ('v', 'm') AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass
                  AND x.objid = c.oid AND x.deptype = 'e')
            ORDER BY n.nspname, c.relname";
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

    async fn comments(&self) -> Result<Vec<Comment>> {
        let found = self.annotations("comments", "pg_description", "d.description");
        Ok((found.await?.into_iter())
            .map(|(object_kind, identity, r)| Comment {
                object_kind,
                identity,
                text: r.get(2),
            })
            .collect())
    }

    /// Security labels, as pg_dump writes them: recreating them needs the same label
    /// provider (`sepgsql`, say) loaded in the target.
    async fn security_labels(&self) -> Result<Vec<SecurityLabel>> {
        let found = self.annotations("security labels", "pg_seclabel", "d.provider, d.label");
        Ok((found.await?.into_iter())
            .map(|(object_kind, identity, r)| SecurityLabel {
                object_kind,
                identity,
                provider: r.get(2),
                label: r.get(3),
            })
            .collect())
    }

    /// The objects in scope that `catalog` (`pg_description` or `pg_seclabel`, as `d`)
    /// annotates: `(kind as COMMENT ON and SECURITY LABEL ON name it, identity, row)`, the
    /// row holding `values` from its third column on.
    async fn annotations(
        &self,
        what: &str,
        catalog: &str,
        values: &str,
    ) -> Result<Vec<(String, String, Row)>> {
        let sql = format!(
            "SELECT o.type, o.identity, {values}
            FROM {catalog} d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
            WHERE coalesce(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END) = ANY($1)
               -- (a column's schema comes quoted)
               OR o.schema = ANY(ARRAY(SELECT quote_ident(s) FROM unnest($1::text[]) s))
               -- a procedural language's, as the languages: no extension's, whole databases',
               -- not a built-in one's (every database has those)
               OR (o.type = 'language' AND d.objoid >= 16384 AND {} AND {WHOLE_DATABASE})
            ORDER BY 1, 2, 3",
            not_in_extension("d.classoid", "d.objoid")
        );
        let mut found = Vec::new();
        for r in self.rows(what, &sql).await? {
            let (kind, identity): (String, String) = (r.get(0), r.get(1));
            if let Some((kind, identity)) = annotated_object(&kind, identity) {
                found.push((kind, identity, r));
            }
        }
        Ok(found)
    }
}

/// How `COMMENT ON` (and `SECURITY LABEL ON`) name an object `pg_identify_object` calls
/// `kind` and `identity`: `None` for a kind annotated elsewhere (a policy's comment goes
/// with the policy, see `Policy::comment`) or not at all.
fn annotated_object(kind: &str, identity: String) -> Option<(String, String)> {
    Some(match kind {
        "table column" | "view column" | "materialized view column" | "foreign table column" => {
            ("COLUMN".to_string(), identity)
        }
        "table constraint" | "trigger" | "domain constraint" | "rule" => {
            let keyword = match kind {
                "trigger" => "TRIGGER",
                "rule" => "RULE",
                _ => "CONSTRAINT",
            };
            let on = if kind == "domain constraint" {
                " ON DOMAIN "
            } else {
                " ON "
            };
            let (name, table) = identity.split_once(" on ")?;
            (keyword.to_string(), format!("{name}{on}{table}"))
        }
        "table" | "view" | "materialized view" | "foreign table" | "sequence" | "index"
        | "function" | "procedure" | "aggregate" | "schema" | "type" | "domain" | "collation" => {
            (kind.to_uppercase(), identity)
        }
        "statistics object" => ("STATISTICS".to_string(), identity),
        "text search configuration"
        | "text search dictionary"
        | "text search parser"
        | "text search template"
        | "operator"
        | "operator class"
        | "operator family"
        | "conversion"
        | "language" => (kind.to_uppercase(), identity),
        _ => return None,
    })
}
