//! Objects of the database rather than of a schema: procedural languages, publications
//! (those that publish a table or schema of the catalog), subscriptions and event triggers. As for pg_dump, they
//! belong to a catalog of the whole database only (but publications of a read table), and
//! subscriptions are read by a superuser only (their connection strings are hidden from
//! other roles).

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::Firing;
use super::queries::{Queries, WHOLE_DATABASE, not_in_extension};
use crate::error::{Error, Result};

/// A publication, with its members among the catalog's tables and schemas.
#[derive(Debug, Clone)]
pub struct Publication {
    pub name: String,
    /// `FOR ALL TABLES`.
    pub all_tables: bool,
    /// The `publish` parameter: `insert, update, delete, truncate` or fewer.
    pub publish: String,
    pub via_partition_root: bool,
    pub tables: Vec<PublishedTable>,
    /// `TABLES IN SCHEMA` members.
    pub schemas: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PublishedTable {
    pub schema: String,
    pub table: String,
    /// The column list; empty for every column.
    pub columns: Vec<String>,
    /// The row filter, as `pg_get_expr` renders it (parenthesised).
    pub filter: Option<String>,
}

/// A procedural language no extension brings (`CREATE LANGUAGE`); its owner and
/// privileges are in [`super::Access`] (kind `LANGUAGE`).
#[derive(Debug, Clone)]
pub struct Language {
    pub name: String,
    pub trusted: bool,
    /// `HANDLER f[ INLINE f][ VALIDATOR f]`, the functions schema-qualified.
    pub functions: String,
}

/// An event trigger. Its owner is in [`super::Access`] (kind `EVENT TRIGGER`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventTrigger {
    pub name: String,
    /// `ddl_command_start`, `ddl_command_end`, `sql_drop` or `table_rewrite`.
    pub event: String,
    /// `WHEN TAG IN (..)`; empty for every command.
    pub tags: Vec<String>,
    /// The function it executes, schema-qualified: `audit.log_ddl`.
    pub function: String,
    pub firing: Firing,
}

/// A subscription, recreated as pg_dump does: without connecting (`connect = false`), so
/// disabled and without tables until `ALTER SUBSCRIPTION .. ENABLE` and `REFRESH`.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub name: String,
    pub conninfo: String,
    pub publications: Vec<String>,
    /// `None` for `slot_name = NONE`.
    pub slot_name: Option<String>,
    /// `binary = true, ..`: the parameters that differ from the defaults.
    pub parameters: Vec<String>,
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn publications(&self) -> Result<Vec<Publication>> {
        let members = "SELECT p.pubname::text, n.nspname::text, c.relname::text,
                ARRAY(SELECT a.attname::text FROM unnest(r.prattrs::int2[]) WITH ORDINALITY u(num, k)
                      JOIN pg_attribute a ON a.attrelid = r.prrelid AND a.attnum = u.num ORDER BY u.k),
                pg_get_expr(r.prqual, r.prrelid)
            FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
            JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) ORDER BY 1, 2, 3";
        let members = self.rows("publication members", members).await?;
        let sql = format!(
            "SELECT p.pubname::text, p.puballtables,
                concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                          CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END),
                p.pubviaroot,
                ARRAY(SELECT n.nspname::text FROM pg_publication_namespace s JOIN pg_namespace n ON n.oid = s.pnnspid
                      WHERE s.pnpubid = p.oid AND n.nspname = ANY($1) ORDER BY 1)
            FROM pg_publication p
            WHERE {} AND ({WHOLE_DATABASE}
               OR EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.prpubid = p.oid AND n.nspname = ANY($1))
               OR EXISTS (SELECT 1 FROM pg_publication_namespace s JOIN pg_namespace n ON n.oid = s.pnnspid
                          WHERE s.pnpubid = p.oid AND n.nspname = ANY($1)))
            ORDER BY 1",
            not_in_extension("'pg_publication'::regclass", "p.oid")
        );
        Ok(self
            .rows("publications", &sql)
            .await?
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                Publication {
                    tables: members
                        .iter()
                        .filter(|m| m.get::<_, String>(0) == name)
                        .map(|m| PublishedTable {
                            schema: m.get(1),
                            table: m.get(2),
                            columns: m.get(3),
                            filter: m.get(4),
                        })
                        .collect(),
                    name,
                    all_tables: r.get(1),
                    publish: r.get(2),
                    via_partition_root: r.get(3),
                    schemas: r.get(4),
                }
            })
            .collect())
    }

    /// The database's subscriptions; none, with a warning, for a role that may not read
    /// their connection strings.
    pub(super) async fn subscriptions(&self) -> Result<Vec<Subscription>> {
        let present = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
                                WHERE d.datname = current_database()),
                    has_column_privilege('pg_subscription', 'subconninfo', 'SELECT')",
                &[],
            )
            .await
            .map_err(|e| Error::pg("reading subscriptions from the catalog", e))?;
        let (any, readable): (bool, bool) = (present.get(0), present.get(1));
        if !any {
            return Ok(Vec::new());
        }
        if !readable {
            tracing::warn!(
                "subscriptions left out: only a superuser may read their connection strings"
            );
            return Ok(Vec::new());
        }
        // Read through to_jsonb: the columns differ between server versions.
        let sql = format!(
            "SELECT s.subname::text, s.subconninfo, s.subpublications::text[], s.subslotname::text,
                array_remove(ARRAY[
                    CASE WHEN j ->> 'subbinary' = 'true' THEN 'binary = true' END,
                    CASE j ->> 'substream' WHEN 'true' THEN 'streaming = on' WHEN 't' THEN 'streaming = on'
                         WHEN 'p' THEN 'streaming = parallel' END,
                    CASE WHEN coalesce(j ->> 'subtwophasestate', 'd') <> 'd' THEN 'two_phase = on' END,
                    CASE WHEN j ->> 'subdisableonerr' = 'true' THEN 'disable_on_error = true' END,
                    CASE WHEN s.subsynccommit <> 'off' THEN 'synchronous_commit = ' || quote_literal(s.subsynccommit) END,
                    CASE WHEN j ->> 'subpasswordrequired' = 'false' THEN 'password_required = false' END,
                    CASE WHEN j ->> 'subrunasowner' = 'true' THEN 'run_as_owner = true' END,
                    CASE WHEN j ->> 'suborigin' = 'none' THEN 'origin = none' END], NULL)
            FROM pg_subscription s CROSS JOIN LATERAL to_jsonb(s) j
            WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND {WHOLE_DATABASE}
            ORDER BY 1"
        );
        Ok(self
            .rows("subscriptions", &sql)
            .await?
            .iter()
            .map(|r| Subscription {
                name: r.get(0),
                conninfo: r.get(1),
                publications: r.get(2),
                slot_name: r.get(3),
                parameters: r.get(4),
            })
            .collect())
    }

    pub(super) async fn event_triggers(&self) -> Result<Vec<EventTrigger>> {
        let sql = format!(
            "SELECT e.evtname::text, e.evtevent::text, coalesce(e.evttags, '{{}}')::text[],
                e.evtfoid::regproc::text, e.evtenabled::text
            FROM pg_event_trigger e WHERE {} AND {WHOLE_DATABASE} ORDER BY 1",
            not_in_extension("'pg_event_trigger'::regclass", "e.oid")
        );
        Ok(self
            .rows("event triggers", &sql)
            .await?
            .iter()
            .map(|r| EventTrigger {
                name: r.get(0),
                event: r.get(1),
                tags: r.get(2),
                function: r.get(3),
                firing: Firing::from_code(r.get(4)),
            })
            .collect())
    }

    pub(super) async fn languages(&self) -> Result<Vec<Language>> {
        let sql = format!(
            "SELECT l.lanname::text, l.lanpltrusted,
                concat_ws(' ', 'HANDLER ' || l.lanplcallfoid::regproc::text,
                          CASE WHEN l.laninline <> 0 THEN 'INLINE ' || l.laninline::regproc::text END,
                          CASE WHEN l.lanvalidator <> 0 THEN 'VALIDATOR ' || l.lanvalidator::regproc::text END)
            FROM pg_language l WHERE l.lanispl AND {} AND {WHOLE_DATABASE} ORDER BY 1",
            not_in_extension("'pg_language'::regclass", "l.oid")
        );
        Ok(self
            .rows("procedural languages", &sql)
            .await?
            .iter()
            .map(|r| Language {
                name: r.get(0),
                trusted: r.get(1),
                functions: r.get(2),
            })
            .collect())
    }
}
