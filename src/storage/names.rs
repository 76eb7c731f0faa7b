//! Database names as path segments. A table may be called `../escaped`, `a/b` or `Café`;
//! under a lake root or in a backup its folder must stay under the root, and two names must
//! never share one folder. Letters, digits, `_` and `-` are kept; `.` is kept inside a name
//! but not first (no `.` or `..`); every other byte becomes `~HH`. `~` is unreserved in URLs
//! and S3 keys, so an encoded name means the same on every store.

/// `name` as one path segment: injective, never empty, never `.` or `..`, no `/`.
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, byte) in name.bytes().enumerate() {
        let keep =
            byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' || (byte == b'.' && i > 0);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("~{byte:02X}"));
        }
    }
    if out.is_empty() {
        out.push('~');
    }
    out
}

/// The folder of a table: `schema.name`, each part a [`segment`] with its dots encoded so
/// that the one separating them is the only one; `name` alone for `public` when
/// `short_public`.
pub fn table_folder(schema: &str, name: &str, short_public: bool) -> String {
    let part = |s: &str| segment(s).replace('.', "~2E");
    if short_public && schema == "public" {
        part(name)
    } else {
        format!("{}.{}", part(schema), part(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_or_collide_get_folders_of_their_own() {
        assert_eq!(segment("hired_employees"), "hired_employees");
        assert_eq!(segment("../escaped"), "~2E.~2Fescaped");
        assert_eq!(segment(".."), "~2E.");
        assert_eq!(segment("a/b"), "a~2Fb");
        assert_ne!(segment("a/b"), segment("a_b"));
        assert_eq!(segment("a~2Fb"), "a~7E2Fb");
        assert_eq!(segment("Café"), "Caf~C3~A9");
        assert_eq!(segment(""), "~");
        assert_eq!(table_folder("public", "jobs", true), "jobs");
        assert_eq!(table_folder("sales", "orders", true), "sales.orders");
        // A dotted name in public and a name in another schema stay apart.
        assert_ne!(
            table_folder("public", "sales.orders", true),
            table_folder("sales", "orders", true)
        );
        assert_ne!(
            table_folder("a.b", "c", false),
            table_folder("a", "b.c", false)
        );
    }

    #[test]
    fn every_segment_is_one_safe_component() {
        for name in ["..", ".", "/", "a/../b", "\\..\\x", "x\0y", " ", "~", "%2F"] {
            let s = segment(name);
            assert!(!s.is_empty() && s != "." && s != "..", "{name}: {s}");
            assert!(!s.contains(['/', '\\', '\0', '%', ' ']), "{name}: {s}");
        }
    }
}
