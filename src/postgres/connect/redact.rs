//! Connection strings made safe to print. A string lakeshift parsed is printed from its
//! settings, without the password ([`super::DbUrl`]'s `Display`); this is for the others —
//! strings that failed to parse, or text of other libraries. It works without parsing, so it
//! cannot fail open: everything between `://` and the last `@` (all the user info) goes,
//! and so does every `password` value, in a query string or in `key=value` form.

/// `raw` with any user info and password values replaced by `***`.
pub fn redact(raw: &str) -> String {
    // Password values first: one may hold `@`, which the user-info rule below looks for.
    let mut masked = raw.to_string();
    mask_passwords(&mut masked);
    match masked.split_once("://") {
        Some((scheme, rest)) => {
            // A password may hold `@`, `/` and `?`: the user info ends at the last `@` of
            // all (when the path or query holds one too, more is hidden, never less).
            match rest.rfind('@') {
                Some(at) => format!(
                    "{scheme}://{}@{}",
                    masked_user_info(&rest[..at]),
                    &rest[at + 1..]
                ),
                None => masked,
            }
        }
        None => masked,
    }
}

/// `user:***` when the user info starts with a plain user name, `user` when it is only
/// one; `***` otherwise.
fn masked_user_info(info: &str) -> String {
    let plain = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    match info.split_once(':') {
        Some((user, _)) if plain(user) => format!("{user}:***"),
        None if plain(info) => info.to_string(),
        _ => "***".to_string(),
    }
}

/// Replace the value after every `password` keyword (`password=x`, `password = 'x y'`,
/// `?password=x&`), whatever its case.
fn mask_passwords(text: &mut String) {
    let mut from = 0;
    while let Some(found) = text[from..].to_ascii_lowercase().find("password") {
        let key_end = from + found + "password".len();
        let rest = &text[key_end..];
        let spaces = rest.len() - rest.trim_start().len();
        if !rest.trim_start().starts_with('=') {
            from = key_end;
            continue;
        }
        let after_eq = key_end + spaces + 1;
        let rest = &text[after_eq..];
        let value_start = after_eq + (rest.len() - rest.trim_start().len());
        // In a URL's query a raw `&` may belong to the password: hide all that follows.
        let in_query = text[..from + found].ends_with(['?', '&']);
        let value_end = if in_query {
            text.len()
        } else {
            value_end(&text[value_start..]) + value_start
        };
        text.replace_range(value_start..value_end, "***");
        from = value_start + 3;
    }
}

/// Where a value starting `value` ends: its closing quote, or the next space or `&`.
fn value_end(value: &str) -> usize {
    let mut chars = value.char_indices();
    if value.starts_with('\'') {
        chars.next();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '\'' => return i + 1,
                _ => {}
            }
        }
        return value.len();
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            c if c.is_whitespace() => return i,
            _ => {}
        }
    }
    value.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_issue_examples_lose_their_passwords() {
        assert_eq!(
            redact("postgres://u:hunter2@127.0.0.1:1,127.0.0.1:2/db"),
            "postgres://u:***@127.0.0.1:1,127.0.0.1:2/db"
        );
        assert_eq!(
            redact("postgres://u:hunter2@/db?host=/nonexistent"),
            "postgres://u:***@/db?host=/nonexistent"
        );
        assert_eq!(
            redact("host=h password='a b' user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(redact("x?PASSWORD=s&y=1"), "x?PASSWORD=***");
        assert_eq!(redact("password=a\\ b user=u"), "password=*** user=u");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://a@b:pw@h/db"), "postgres://***@h/db");
    }

    /// Characters a password may hold, including every separator the forms use.
    fn password() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9@:/?&=%' \\\\#\\[\\]!$,;.-]{4,20}"
            .prop_filter("not blank", |p| p.trim().len() >= 4)
    }

    proptest! {
        #[test]
        fn no_form_prints_its_password(pw in password(), host in "[a-z]{1,8}", user in "[a-z]{1,8}") {
            let quoted = pw.replace('\\', "\\\\").replace('\'', "\\'");
            let forms = [
                format!("postgres://{user}:{pw}@{host}:5432/db"),
                format!("postgresql://{user}:{pw}@{host}:1,{host}:2/db?sslmode=require"),
                format!("postgres://{user}:{pw}@/db?host=/tmp"),
                format!("postgres://{user}@{host}/db?password={pw}"),
                format!("host={host} user={user} password='{quoted}'"),
                format!("host={host} password = '{quoted}' dbname=x"),
                format!("mysql://{user}:{pw}@{host}/db"),
            ];
            for form in forms {
                let shown = redact(&form);
                prop_assert!(!shown.contains(&pw), "{form} -> {shown}");
            }
        }
    }
}
