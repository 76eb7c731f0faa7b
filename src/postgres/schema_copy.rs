//! `schema copy` / the `schema_copy` step: a database's schemas recreated in another, from
//! the script [`super::ddl`] writes, in one transaction.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::options::{Check, Problem};
use crate::postgres::catalog::Catalog;
use crate::postgres::cluster::{check_roles, check_tablespaces};
use crate::postgres::connect::DbUrl;
use crate::postgres::ddl::{SESSION_SETTINGS, statements};
use crate::postgres::selection::SchemaScope;

/// The options of a schema copy (YAML: the `schema_copy` step beside `source` and `target`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaCopyOptions {
    /// The schemas to copy; every non-system schema when empty.
    #[serde(flatten)]
    pub scope: SchemaScope,
    /// Leave out owners: objects belong to whoever applies the script (pg_dump -O); grants
    /// and policies naming a role the target lacks are left out with a warning.
    pub no_owner: bool,
    /// Leave out privileges and default privileges (pg_dump -x).
    pub no_privileges: bool,
    /// Leave out tablespaces: everything goes to the target's default one.
    pub no_tablespaces: bool,
}

impl SchemaCopyOptions {
    pub fn new(scope: SchemaScope) -> Self {
        SchemaCopyOptions {
            scope,
            ..Default::default()
        }
    }

    /// The catalog of the schemas in `source`, without what `no_owner`, `no_privileges`
    /// and `no_tablespaces` leave out.
    pub async fn load_catalog(&self, source: &DbUrl) -> Result<Catalog> {
        let mut catalog = self.scope.load_catalog(source).await?;
        if self.no_owner {
            catalog.access.without_owners();
        }
        if self.no_privileges {
            catalog.access.without_privileges();
        }
        if self.no_tablespaces {
            catalog.placements.clear();
        }
        Ok(catalog)
    }
}

impl Check for SchemaCopyOptions {
    fn check(&self, problems: &mut Vec<Problem>) {
        self.scope.check(problems);
    }
}

/// What a schema copy did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaCopySummary {
    pub schemas: Vec<String>,
    pub tables: usize,
    pub views: usize,
    pub functions: usize,
    pub sequences: usize,
    pub indexes: usize,
    pub statements: usize,
}

/// Read the schemas of `options` from `source` and recreate them in `target` in one
/// transaction.
pub async fn copy(
    source: &DbUrl,
    target: &DbUrl,
    options: &SchemaCopyOptions,
) -> Result<SchemaCopySummary> {
    options.problems()?;
    let mut catalog = options.load_catalog(source).await?;
    check_roles(&mut catalog.access, target, options.no_owner).await?;
    check_tablespaces(&mut catalog.placements, target, options.no_tablespaces).await?;
    let statements = statements(&catalog);
    apply(target, &statements).await?;
    Ok(SchemaCopySummary {
        schemas: catalog.schemas.clone(),
        tables: catalog.tables.len(),
        views: catalog.views.len(),
        functions: catalog.functions.len(),
        sequences: catalog.sequences.len(),
        indexes: catalog.indexes.len(),
        statements: statements.len(),
    })
}

/// Run `statements` against `target` in one transaction: all of them or none.
async fn apply(target: &DbUrl, statements: &[String]) -> Result<()> {
    let mut client = target.connect().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| Error::pg("starting the schema transaction", e))?;
    for setting in SESSION_SETTINGS {
        tx.batch_execute(setting)
            .await
            .map_err(|e| Error::pg("preparing the schema transaction", e))?;
    }
    for statement in statements {
        tx.batch_execute(statement).await.map_err(|e| {
            let head = statement
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            Error::pg(format!("applying `{}` to {target}", head.trim()), e)
        })?;
    }
    tx.commit()
        .await
        .map_err(|e| Error::pg(format!("committing the schema to {target}"), e))
}
