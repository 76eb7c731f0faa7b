//! Functions, procedures and aggregates.

use super::queries::Queries;
use crate::error::Result;
use tokio_postgres::GenericClient;

#[derive(Debug, Clone)]
pub struct Function {
    pub schema: String,
    pub name: String,
    pub identity_args: String,
    pub is_procedure: bool,
    pub definition: String,
    /// Reads a table or a table's row type, so it must be created after the tables.
    pub needs_tables: bool,
    /// A procedural language's handler, inline handler or validator: created before the
    /// languages, which come before every other function.
    pub serves_language: bool,
}

/// `CREATE OR REPLACE AGGREGATE`, built from `pg_aggregate` (the server has no
/// `pg_get_aggregatedef`); created after every function, as it calls some of them.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub schema: String,
    pub name: String,
    pub identity_args: String,
    pub definition: String,
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn functions(&self) -> Result<Vec<Function>> {
        // Functions a type made for itself (a range's constructors) come with the type.
        let sql = "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind = 'p',
                pg_get_functiondef(p.oid),
                EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND (d.refclassid = 'pg_class'::regclass
                             OR (d.refclassid = 'pg_type'::regclass
                                 AND EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = d.refobjid AND t.typrelid <> 0)))),
                EXISTS (SELECT 1 FROM pg_language l WHERE p.oid IN (l.lanplcallfoid, l.laninline, l.lanvalidator))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY($1) AND p.prokind IN ('f', 'p', 'w')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
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
                serves_language: r.get(6),
            })
            .collect())
    }

    pub(super) async fn aggregates(&self) -> Result<Vec<Aggregate>> {
        // Options at their defaults are left out, as pg_dump does; a final function's
        // default modify mode is READ_ONLY for plain aggregates, READ_WRITE for ordered-set.
        let sql = "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                format('CREATE OR REPLACE AGGREGATE %I.%I(%s) (%s)', n.nspname, p.proname,
                    CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_arguments(p.oid) END,
                    concat_ws(', ',
                        'SFUNC = ' || a.aggtransfn::regproc,
                        'STYPE = ' || format_type(a.aggtranstype, NULL),
                        CASE WHEN a.aggtransspace <> 0 THEN 'SSPACE = ' || a.aggtransspace END,
                        CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC = ' || a.aggfinalfn::regproc END,
                        CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
                        CASE WHEN a.aggfinalfn <> 0 AND a.aggfinalmodify <> CASE a.aggkind WHEN 'n' THEN 'r' ELSE 'w' END
                             THEN 'FINALFUNC_MODIFY = ' || CASE a.aggfinalmodify WHEN 'r' THEN 'READ_ONLY'
                                  WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END END,
                        CASE WHEN a.aggcombinefn <> 0 THEN 'COMBINEFUNC = ' || a.aggcombinefn::regproc END,
                        CASE WHEN a.aggserialfn <> 0 THEN 'SERIALFUNC = ' || a.aggserialfn::regproc END,
                        CASE WHEN a.aggdeserialfn <> 0 THEN 'DESERIALFUNC = ' || a.aggdeserialfn::regproc END,
                        CASE WHEN a.agginitval IS NOT NULL THEN 'INITCOND = ' || quote_literal(a.agginitval) END,
                        CASE WHEN a.aggmtransfn <> 0 THEN 'MSFUNC = ' || a.aggmtransfn::regproc
                             || ', MINVFUNC = ' || a.aggminvtransfn::regproc
                             || ', MSTYPE = ' || format_type(a.aggmtranstype, NULL) END,
                        CASE WHEN a.aggmtransspace <> 0 THEN 'MSSPACE = ' || a.aggmtransspace END,
                        CASE WHEN a.aggmfinalfn <> 0 THEN 'MFINALFUNC = ' || a.aggmfinalfn::regproc END,
                        CASE WHEN a.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,
                        CASE WHEN a.aggmfinalfn <> 0 AND a.aggmfinalmodify <> CASE a.aggkind WHEN 'n' THEN 'r' ELSE 'w' END
                             THEN 'MFINALFUNC_MODIFY = ' || CASE a.aggmfinalmodify WHEN 'r' THEN 'READ_ONLY'
                                  WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END END,
                        CASE WHEN a.aggminitval IS NOT NULL THEN 'MINITCOND = ' || quote_literal(a.aggminitval) END,
                        CASE WHEN a.aggsortop <> 0 THEN (SELECT 'SORTOP = OPERATOR(' || quote_ident(on_.nspname) || '.'
                             || o.oprname || ')' FROM pg_operator o JOIN pg_namespace on_ ON on_.oid = o.oprnamespace
                             WHERE o.oid = a.aggsortop) END,
                        CASE WHEN a.aggkind = 'h' THEN 'HYPOTHETICAL' END,
                        CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END))
            FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
            ORDER BY n.nspname, p.proname, p.oid";
        Ok(self
            .rows("aggregates", sql)
            .await?
            .iter()
            .map(|r| Aggregate {
                schema: r.get(0),
                name: r.get(1),
                identity_args: r.get(2),
                definition: r.get(3),
            })
            .collect())
    }
}
