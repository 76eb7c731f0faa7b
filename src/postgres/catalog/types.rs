//! User-defined types and collations: enums, domains, composite and range types.

use super::queries::Queries;
use crate::error::Result;
use tokio_postgres::GenericClient;

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

/// `CREATE TYPE .. AS (..)`.
#[derive(Debug, Clone)]
pub struct CompositeType {
    pub schema: String,
    pub name: String,
    /// `name type [COLLATE ..]` of each attribute, in order.
    pub attributes: Vec<String>,
}

/// `CREATE TYPE .. AS RANGE (..)`.
#[derive(Debug, Clone)]
pub struct RangeType {
    pub schema: String,
    pub name: String,
    /// `subtype = .., multirange_type_name = .., ..`: the options that differ from the defaults.
    pub options: String,
    /// Its `subtype_diff` or `canonical` function is one of the catalog's own: the type is
    /// created after the functions (after a shell type, for a `canonical` one).
    pub after_functions: bool,
    /// Its `canonical` function is one of the catalog's own: it takes the type, so a shell
    /// of the type comes first.
    pub needs_shell: bool,
    /// Those functions' definitions, for a table's own DDL (which carries no functions
    /// but these: the type cannot be made without them).
    pub function_definitions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Collation {
    pub schema: String,
    pub name: String,
    /// `provider = icu, locale = '..', deterministic = false`.
    pub options: String,
}

impl<C: GenericClient + Sync> Queries<'_, C> {
    pub(super) async fn enums(&self) -> Result<Vec<EnumType>> {
        let sql = "SELECT n.nspname, t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
            WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass
                  AND x.objid = t.oid AND x.deptype = 'e') GROUP BY 1, 2 ORDER BY 1, 2";
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

    pub(super) async fn domains(&self) -> Result<Vec<Domain>> {
        let sql = "SELECT n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
                CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                coalesce(array_agg(c.conname::text ORDER BY c.conname) FILTER (WHERE c.oid IS NOT NULL), '{}'),
                coalesce(array_agg(pg_get_constraintdef(c.oid) ORDER BY c.conname) FILTER (WHERE c.oid IS NOT NULL), '{}')
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            JOIN pg_type bt ON bt.oid = t.typbasetype
            LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            LEFT JOIN pg_constraint c ON c.contypid = t.oid AND c.contype = 'c'
            WHERE t.typtype = 'd' AND n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend x
                  WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid AND x.deptype = 'e')
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

    pub(super) async fn composite_types(&self) -> Result<Vec<CompositeType>> {
        let sql = "SELECT n.nspname, t.typname,
                ARRAY(SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                             || CASE WHEN a.attcollation <> at.typcollation
                                THEN ' COLLATE ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname) ELSE '' END
                      FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
                      LEFT JOIN pg_collation co ON co.oid = a.attcollation
                      LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid
            WHERE t.typtype = 'c' AND c.relkind = 'c' AND n.nspname = ANY($1)
              AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass
                              AND x.objid = t.oid AND x.deptype = 'e')
            ORDER BY t.oid";
        Ok(self
            .rows("composite types", sql)
            .await?
            .iter()
            .map(|r| CompositeType {
                schema: r.get(0),
                name: r.get(1),
                attributes: r.get(2),
            })
            .collect())
    }

    pub(super) async fn range_types(&self) -> Result<Vec<RangeType>> {
        // The multirange's name is always given (pg_dump does too); the operator class and
        // the collation only when they are not the subtype's defaults.
        let own_function = |f: &str| {
            format!(
                "EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace
                 WHERE p.oid = {f} AND pn.nspname = ANY($1))"
            )
        };
        let sql = format!("SELECT n.nspname, t.typname, concat_ws(', ',
                'subtype = ' || format_type(r.rngsubtype, NULL),
                'multirange_type_name = ' || format_type(nullif((to_jsonb(r) ->> 'rngmultitypid')::oid, 0), NULL),
                CASE WHEN NOT oc.opcdefault
                     THEN 'subtype_opclass = ' || quote_ident(ocn.nspname) || '.' || quote_ident(oc.opcname) END,
                CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
                     THEN 'collation = ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                CASE WHEN r.rngcanonical <> 0 THEN 'canonical = ' || r.rngcanonical::regproc END,
                CASE WHEN r.rngsubdiff <> 0 THEN 'subtype_diff = ' || r.rngsubdiff::regproc END),
                {} OR {}, {},
                ARRAY(SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace
                      WHERE p.oid IN (r.rngsubdiff, r.rngcanonical) AND pn.nspname = ANY($1) ORDER BY p.oid)
            FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid JOIN pg_namespace n ON n.oid = t.typnamespace
            JOIN pg_type st ON st.oid = r.rngsubtype
            JOIN pg_opclass oc ON oc.oid = r.rngsubopc JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
            LEFT JOIN pg_collation co ON co.oid = r.rngcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
            WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass
                  AND x.objid = t.oid AND x.deptype = 'e')
            ORDER BY t.oid",
            own_function("r.rngsubdiff"),
            own_function("r.rngcanonical"),
            own_function("r.rngcanonical"),
        );
        Ok(self
            .rows("range types", &sql)
            .await?
            .iter()
            .map(|r| RangeType {
                schema: r.get(0),
                name: r.get(1),
                options: r.get(2),
                after_functions: r.get(3),
                needs_shell: r.get(4),
                function_definitions: r.get(5),
            })
            .collect())
    }

    pub(super) async fn collations(&self) -> Result<Vec<Collation>> {
        // Read through to_jsonb: the locale columns differ between server versions
        // (colliculocale in 15, colllocale from 17).
        let sql = "SELECT n.nspname, c.collname, concat_ws(', ',
                'provider = ' || CASE c.collprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END,
                CASE WHEN c.collprovider = 'c' AND c.collcollate = c.collctype
                     THEN 'locale = ' || quote_literal(c.collcollate) END,
                CASE WHEN c.collprovider = 'c' AND c.collcollate <> c.collctype
                     THEN 'lc_collate = ' || quote_literal(c.collcollate) || ', lc_ctype = ' || quote_literal(c.collctype) END,
                CASE WHEN c.collprovider <> 'c' THEN 'locale = ' || quote_literal(coalesce(
                     to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale', c.collcollate)) END,
                CASE WHEN to_jsonb(c) ->> 'collicurules' IS NOT NULL
                     THEN 'rules = ' || quote_literal(to_jsonb(c) ->> 'collicurules') END,
                CASE WHEN NOT c.collisdeterministic THEN 'deterministic = false' END)
            FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
            WHERE n.nspname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_depend x
                  WHERE x.classid = 'pg_collation'::regclass AND x.objid = c.oid AND x.deptype = 'e')
            ORDER BY n.nspname, c.collname";
        Ok(self
            .rows("collations", sql)
            .await?
            .iter()
            .map(|r| Collation {
                schema: r.get(0),
                name: r.get(1),
                options: r.get(2),
            })
            .collect())
    }
}
