//! Relations moved into their tablespaces once created (see [`Placement`]).

use super::qualified;
use crate::postgres::catalog::Placement;
use crate::postgres::connect::quote_ident;

/// `ALTER <kind> .. SET TABLESPACE ..` for each of `placements`; setting it again moves
/// nothing. A partitioned table or index only records it (its partitions have their own).
pub fn placement_statements<'a>(
    placements: impl IntoIterator<Item = &'a Placement>,
) -> Vec<String> {
    placements
        .into_iter()
        .map(|p| {
            format!(
                "ALTER {} {} SET TABLESPACE {}",
                p.kind,
                qualified(&p.schema, &p.name),
                quote_ident(&p.tablespace)
            )
        })
        .collect()
}
