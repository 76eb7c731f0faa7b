//! Procedural languages, publications, subscriptions and event triggers: objects of the
//! database, not of a schema.

use super::{if_missing, qualified};
use crate::postgres::catalog::{Access, EventTrigger, Language, Publication, Subscription};
use crate::postgres::connect::{quote_ident, quote_literal};

pub(super) fn language(l: &Language) -> String {
    let trusted = if l.trusted { "TRUSTED " } else { "" };
    format!(
        "CREATE OR REPLACE {trusted}LANGUAGE {} {}",
        quote_ident(&l.name),
        l.functions
    )
}

/// A publication with its parameters, then each member it lacks (as pg_dump adds them).
pub(super) fn publication(p: &Publication) -> Vec<String> {
    let name = quote_ident(&p.name);
    let mut with = format!("publish = {}", quote_literal(&p.publish));
    if p.via_partition_root {
        with.push_str(", publish_via_partition_root = true");
    }
    let all = if p.all_tables { " FOR ALL TABLES" } else { "" };
    let in_publication = |catalog: &str, column: &str, member: String| {
        format!(
            "SELECT 1 FROM {catalog} m JOIN pg_publication p ON p.oid = m.{column}
             WHERE p.pubname = {} AND {member}",
            quote_literal(&p.name)
        )
    };
    let mut out = vec![if_missing(
        &format!(
            "SELECT 1 FROM pg_publication WHERE pubname = {}",
            quote_literal(&p.name)
        ),
        &format!("CREATE PUBLICATION {name}{all} WITH ({with})"),
    )];
    for t in &p.tables {
        let table = qualified(&t.schema, &t.table);
        let mut add = format!("ALTER PUBLICATION {name} ADD TABLE ONLY {table}");
        if !t.columns.is_empty() {
            let columns: Vec<String> = t.columns.iter().map(|c| quote_ident(c)).collect();
            add.push_str(&format!(" ({})", columns.join(", ")));
        }
        if let Some(filter) = &t.filter {
            add.push_str(&format!(" WHERE {filter}"));
        }
        let member = format!("m.prrelid = {}::regclass", quote_literal(&table));
        out.push(if_missing(
            &in_publication("pg_publication_rel", "prpubid", member),
            &add,
        ));
    }
    for schema in &p.schemas {
        let member = format!(
            "m.pnnspid = {}::regnamespace",
            quote_literal(&quote_ident(schema))
        );
        out.push(if_missing(
            &in_publication("pg_publication_namespace", "pnpubid", member),
            &format!(
                "ALTER PUBLICATION {name} ADD TABLES IN SCHEMA {}",
                quote_ident(schema)
            ),
        ));
    }
    out
}

/// A subscription as pg_dump recreates it: `connect = false`, so it is created disabled,
/// without a slot or tables, and connects to nothing until it is enabled.
pub(super) fn subscription(s: &Subscription) -> String {
    let publications: Vec<String> = s.publications.iter().map(|p| quote_ident(p)).collect();
    let slot = s
        .slot_name
        .as_deref()
        .map_or("NONE".to_string(), quote_literal);
    let mut with = vec!["connect = false".to_string(), format!("slot_name = {slot}")];
    with.extend(s.parameters.iter().cloned());
    if_missing(
        &format!(
            "SELECT 1 FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
             WHERE d.datname = current_database() AND s.subname = {}",
            quote_literal(&s.name)
        ),
        &format!(
            "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH ({})",
            quote_ident(&s.name),
            quote_literal(&s.conninfo),
            publications.join(", "),
            with.join(", ")
        ),
    )
}

/// Event triggers, created after everything else (policies and privileges included) so
/// that they fire for nothing the script itself does; each with its firing and its owner
/// as `access` has it.
pub fn event_triggers(triggers: &[EventTrigger], access: &Access) -> Vec<String> {
    let mut out = Vec::new();
    for t in triggers {
        let name = quote_ident(&t.name);
        let mut create = format!("CREATE EVENT TRIGGER {name} ON {}", t.event);
        if !t.tags.is_empty() {
            let tags: Vec<String> = t.tags.iter().map(|tag| quote_literal(tag)).collect();
            create.push_str(&format!(" WHEN TAG IN ({})", tags.join(", ")));
        }
        create.push_str(&format!(" EXECUTE FUNCTION {}()", t.function));
        out.push(if_missing(
            &format!(
                "SELECT 1 FROM pg_event_trigger WHERE evtname = {}",
                quote_literal(&t.name)
            ),
            &create,
        ));
        if let Some(words) = t.firing.alter_words() {
            out.push(format!("ALTER EVENT TRIGGER {name} {words}"));
        }
        let owner = access
            .objects
            .iter()
            .filter(|a| a.kind == EVENT_TRIGGER && a.identity == name && a.has_own_owner)
            .find_map(|a| a.owner.as_ref());
        if let Some(owner) = owner {
            out.push(format!(
                "ALTER EVENT TRIGGER {name} OWNER TO {}",
                quote_ident(owner)
            ));
        }
    }
    out
}

/// The kind of an event trigger's entry in [`Access`]: its owner is set by
/// [`event_triggers`], after the trigger exists.
pub(super) const EVENT_TRIGGER: &str = "EVENT TRIGGER";
