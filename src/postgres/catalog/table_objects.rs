//! What hangs off a table or view beside its columns and keys: triggers, rules,
//! row-level security policies and extended statistics.

use super::queries::Queries;
use crate::error::Result;
use tokio_postgres::GenericClient;

#[derive(Debug, Clone)]
pub struct Trigger {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub definition: String,
    pub is_constraint: bool,
    pub firing: Firing,
    /// A partition's clone of its parent's trigger, listed only because it fires otherwise
    /// than the parent's: only its firing is set.
    pub cloned: bool,
}

/// A rewrite rule but a view's own `_RETURN`: `pg_get_ruledef` without its semicolon.
#[derive(Debug, Clone)]
pub struct Rule {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub definition: String,
    pub firing: Firing,
}

/// When a trigger, rule or event trigger fires (`tgenabled`, `ev_enabled`, `evtenabled`):
/// what `ALTER .. DISABLE / ENABLE [REPLICA | ALWAYS]` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Firing {
    /// `O`: in origin and local sessions (the default).
    Origin,
    /// `D`: never.
    Disabled,
    /// `R`: in replica sessions only.
    Replica,
    /// `A`: always.
    Always,
}

impl Firing {
    pub(super) fn from_code(code: &str) -> Firing {
        match code {
            "D" => Firing::Disabled,
            "R" => Firing::Replica,
            "A" => Firing::Always,
            _ => Firing::Origin,
        }
    }

    /// The words of `ALTER .. <words> TRIGGER|RULE name`; `None` for the default.
    pub fn alter_words(self) -> Option<&'static str> {
        match self {
            Firing::Origin => None,
            Firing::Disabled => Some("DISABLE"),
            Firing::Replica => Some("ENABLE REPLICA"),
            Firing::Always => Some("ENABLE ALWAYS"),
        }
    }
}

/// A row-level security policy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub permissive: bool,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// The roles it applies to; empty for `PUBLIC`.
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
    /// `COMMENT ON POLICY`: it goes with the policy, which is created late.
    #[serde(default)]
    pub comment: Option<String>,
}

/// `CREATE STATISTICS`, with its statistics target when one is set.
#[derive(Debug, Clone)]
pub struct Statistics {
    pub schema: String,
    pub name: String,
    pub definition: String,
    pub target: Option<i32>,
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn triggers(&self) -> Result<Vec<Trigger>> {
        // A partition's clone of its parent's trigger comes with the parent's; it is listed
        // only when it fires otherwise.
        let sql = "SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgconstraint <> 0,
                t.tgenabled::text, t.tgparentid <> 0
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND NOT t.tgisinternal AND (t.tgparentid = 0 OR t.tgenabled <>
                  (SELECT p.tgenabled FROM pg_trigger p WHERE p.oid = t.tgparentid))
            ORDER BY n.nspname, c.relname, t.tgname";
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
                firing: Firing::from_code(r.get(5)),
                cloned: r.get(6),
            })
            .collect())
    }

    pub(super) async fn rules(&self) -> Result<Vec<Rule>> {
        let sql = "SELECT n.nspname, c.relname, r.rulename, pg_get_ruledef(r.oid), r.ev_enabled::text
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND r.rulename <> '_RETURN' ORDER BY n.nspname, c.relname, r.rulename";
        Ok(self
            .rows("rules", sql)
            .await?
            .iter()
            .map(|r| Rule {
                schema: r.get(0),
                table: r.get(1),
                name: r.get(2),
                definition: r
                    .get::<_, String>(3)
                    .trim_end()
                    .trim_end_matches(';')
                    .to_string(),
                firing: Firing::from_code(r.get(4)),
            })
            .collect())
    }

    pub(super) async fn policies(&self) -> Result<Vec<Policy>> {
        let sql = "SELECT schemaname::text, tablename::text, policyname::text, permissive = 'PERMISSIVE', cmd,
                ARRAY(SELECT r::text FROM unnest(roles) r WHERE r <> 'public'), qual, with_check,
                (SELECT d.description FROM pg_policy p JOIN pg_description d
                     ON d.classoid = 'pg_policy'::regclass AND d.objoid = p.oid
                 WHERE p.polname = policyname
                   AND p.polrelid = (quote_ident(schemaname) || '.' || quote_ident(tablename))::regclass)
            FROM pg_policies WHERE schemaname = ANY($1) ORDER BY 1, 2, 3";
        Ok(self
            .rows("row-level security policies", sql)
            .await?
            .iter()
            .map(|r| Policy {
                schema: r.get(0),
                table: r.get(1),
                name: r.get(2),
                permissive: r.get(3),
                command: r.get(4),
                roles: r.get(5),
                using: r.get(6),
                with_check: r.get(7),
                comment: r.get(8),
            })
            .collect())
    }

    pub(super) async fn statistics(&self) -> Result<Vec<Statistics>> {
        // The target is read through to_jsonb: it is -1 for "default" up to 16, NULL after.
        let sql = "SELECT n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid),
                nullif((to_jsonb(s) ->> 'stxstattarget')::int, -1)
            FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
            WHERE n.nspname = ANY($1) ORDER BY n.nspname, s.stxname";
        Ok(self
            .rows("extended statistics", sql)
            .await?
            .iter()
            .map(|r| Statistics {
                schema: r.get(0),
                name: r.get(1),
                definition: r.get(2),
                target: r.get(3),
            })
            .collect())
    }
}
