//! The roles and tablespaces a catalog names, checked against the database it is recreated
//! in: they are the cluster's, not the database's, so a copy or restore into another
//! cluster may lack them.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::postgres::catalog::{Access, Placement};
use crate::postgres::connect::DbUrl;

/// The roles `access` names that `target` does not have. Without `no_owner` a missing role
/// is an error, before anything is applied; with it, what names the role is left out,
/// with a warning each.
pub async fn check_roles(access: &mut Access, target: &DbUrl, no_owner: bool) -> Result<()> {
    let named: Vec<String> = access.roles().into_iter().collect();
    let missing = missing_roles(target, &named).await?;
    if missing.is_empty() {
        return Ok(());
    }
    if !no_owner {
        return Err(missing_roles_error(&missing, target));
    }
    for left_out in access.without_roles(&missing) {
        tracing::warn!("left out {left_out}: its role does not exist in {target}");
    }
    Ok(())
}

/// The roles of `named` that `target` does not have.
pub async fn missing_roles(target: &DbUrl, named: &[String]) -> Result<BTreeSet<String>> {
    missing(
        target,
        "roles",
        "SELECT rolname::text FROM pg_roles",
        "rolname",
        named,
    )
    .await
}

/// The names of `named` that `target`'s cluster lacks among the `what` that `list` (a
/// query) gives by `column`.
async fn missing(
    target: &DbUrl,
    what: &str,
    list: &str,
    column: &str,
    named: &[String],
) -> Result<BTreeSet<String>> {
    if named.is_empty() {
        return Ok(BTreeSet::new());
    }
    let client = target.connect().await?;
    let found: BTreeSet<String> = client
        .query(&format!("{list} WHERE {column} = ANY($1)"), &[&named])
        .await
        .map_err(|e| Error::pg(format!("listing the {what}"), e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(named
        .iter()
        .filter(|n| !found.contains(*n))
        .cloned()
        .collect())
}

pub fn missing_roles_error(missing: &BTreeSet<String>, target: &DbUrl) -> Error {
    Error::MissingRoles {
        roles: missing.iter().cloned().collect::<Vec<_>>().join(", "),
        target: target.redacted(),
    }
}

/// Leaves out every placement under `no_tablespaces` (objects go to the target's default
/// tablespace, as pg_restore --no-tablespaces); otherwise a tablespace `target` lacks is
/// an error, before anything is applied.
pub async fn check_tablespaces(
    placements: &mut Vec<Placement>,
    target: &DbUrl,
    no_tablespaces: bool,
) -> Result<()> {
    if no_tablespaces {
        placements.clear();
    }
    let named: BTreeSet<String> = placements.iter().map(|p| p.tablespace.clone()).collect();
    let named: Vec<String> = named.into_iter().collect();
    let list = "SELECT spcname::text FROM pg_tablespace";
    let missing = missing(target, "tablespaces", list, "spcname", &named).await?;
    if missing.is_empty() {
        return Ok(());
    }
    let missing: Vec<String> = missing.into_iter().collect();
    Err(Error::MissingTablespaces {
        tablespaces: missing.join(", "),
        target: target.redacted(),
    })
}
