//! The two forms libpq accepts for a connection string, parsed into `(keyword, value)`
//! settings in the order given: a URL (`postgresql://user:pw@h1:5432,h2/db?sslmode=require`)
//! or `key=value` pairs (`host=h1 dbname='my db' sslmode=require`).

/// The keywords lakeshift understands, as libpq spells them.
pub const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "service",
    "connect_timeout",
    "application_name",
    "fallback_application_name",
    "options",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "gssencmode",
    "sslsni",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "target_session_attrs",
    "load_balance_hosts",
    "channel_binding",
];

/// Settings as `(keyword, value)` pairs, in the order given.
pub type Settings = Vec<(String, String)>;

/// Parse `raw` in either form. Errors never quote the string (it may hold a password).
pub fn parse(raw: &str) -> Result<Settings, String> {
    let trimmed = raw.trim();
    let settings = match trimmed.split_once("://") {
        Some((scheme, rest)) => {
            if !matches!(scheme, "postgres" | "postgresql") {
                return Err(format!(
                    "expected postgres://user[:password]@host[:port]/database or key=value settings, not a {scheme}:// URL"
                ));
            }
            parse_url(rest)?
        }
        None => parse_pairs(trimmed)?,
    };
    for (key, _) in &settings {
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(format!("unknown connection option {key:?}"));
        }
    }
    Ok(settings)
}

/// `user:pw@hosts/db?params`, after the scheme.
fn parse_url(rest: &str) -> Result<Settings, String> {
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    let mut settings = Settings::new();
    // The last `@` ends the user info: a password may hold `@` (percent-encoded or not).
    let hosts = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                settings.push(("user".into(), decode(user)?));
            }
            if let Some(password) = password {
                settings.push(("password".into(), decode(password)?));
            }
            hosts
        }
        None => authority,
    };
    if !hosts.is_empty() {
        let (names, ports) = split_hosts(hosts)?;
        settings.push(("host".into(), names.join(",")));
        if ports.iter().any(|p| !p.is_empty()) {
            settings.push(("port".into(), ports.join(",")));
        }
    }
    if !path.is_empty() {
        settings.push(("dbname".into(), decode(path)?));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| "a URL parameter without a value".to_string())?;
        let key = decode(key)?;
        // A parameter overrides the same setting from the URL's other parts.
        settings.retain(|(k, _)| *k != key);
        settings.push((key, decode(value)?));
    }
    Ok(settings)
}

/// `h1:5432,[::1]:5433,h3` -> hosts and ports (empty where a host has none).
fn split_hosts(hosts: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut names = Vec::new();
    let mut ports = Vec::new();
    for item in hosts.split(',') {
        let (name, port) = if let Some(rest) = item.strip_prefix('[') {
            let (name, after) = rest
                .split_once(']')
                .ok_or_else(|| "an IPv6 host without its closing ]".to_string())?;
            (name.to_string(), after.strip_prefix(':').unwrap_or(after))
        } else {
            match item.rsplit_once(':') {
                Some((name, port)) => (decode(name)?, port),
                None => (decode(item)?, ""),
            }
        };
        names.push(name);
        ports.push(port.to_string());
    }
    Ok((names, ports))
}

/// `%xx` escapes decoded (as UTF-8).
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "a bad %-escape in the URL".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL does not decode to UTF-8".to_string())
}

/// `key=value key2 = 'quoted \' value'`.
fn parse_pairs(text: &str) -> Result<Settings, String> {
    let mut settings = Settings::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(settings);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "missing \"=\" after {key:?} (expected key=value settings or a postgres:// URL)"
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(format!("the value of {key:?} has no closing quote")),
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        settings.retain(|(k, _)| *k != key);
        settings.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(settings: &'a Settings, key: &str) -> Option<&'a str> {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn urls_give_every_part() {
        let s = parse("postgresql://me:p%40ss:w@h1:5433,[::1],h3:5/my%20db?sslmode=verify-full&application_name=x").unwrap();
        assert_eq!(get(&s, "user"), Some("me"));
        assert_eq!(get(&s, "password"), Some("p@ss:w"));
        assert_eq!(get(&s, "host"), Some("h1,::1,h3"));
        assert_eq!(get(&s, "port"), Some("5433,,5"));
        assert_eq!(get(&s, "dbname"), Some("my db"));
        assert_eq!(get(&s, "sslmode"), Some("verify-full"));
        let s = parse("postgres://u:pw@/db?host=/var/run/postgresql").unwrap();
        assert_eq!(get(&s, "host"), Some("/var/run/postgresql"));
        assert_eq!(parse("postgres://").unwrap(), Settings::new());
    }

    #[test]
    fn pairs_take_quotes_and_escapes() {
        let s = parse("host=h  dbname = 'my db' password='it\\'s' user=a\\ b").unwrap();
        assert_eq!(get(&s, "host"), Some("h"));
        assert_eq!(get(&s, "dbname"), Some("my db"));
        assert_eq!(get(&s, "password"), Some("it's"));
        assert_eq!(get(&s, "user"), Some("a b"));
        assert_eq!(parse("").unwrap(), Settings::new());
    }

    #[test]
    fn bad_strings_are_refused_without_quoting_them() {
        for bad in [
            "mysql://u:secret@h/db",
            "host=h password",
            "password='secret",
            "postgres://u:secret@h/db?nope=1",
            "postgres://u:secret@[::1/db",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains("secret"), "{bad}: {err}");
        }
        assert!(
            parse("mysql://x")
                .unwrap_err()
                .contains("expected postgres://")
        );
    }
}
