//! The files libpq reads beside a connection string: the password file (`~/.pgpass`,
//! `PGPASSFILE`, `passfile=`) and service files (`~/.pg_service.conf`, `PGSERVICEFILE`,
//! `PGSYSCONFDIR/pg_service.conf`).

use std::path::{Path, PathBuf};

use super::conninfo::Settings;

/// The password the password file at `path` gives for this server, database and user.
///
/// Lines are `host:port:database:user:password`, `*` matching anything, `\:` and `\\`
/// escaping; the first matching line wins. `localhost` also matches a Unix socket. As
/// libpq does, a file that others may read is ignored: `Err` is the warning to give.
pub fn pgpass_password(
    path: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Result<Option<String>, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    if others_may_read(path) {
        return Err(format!(
            "password file {} has group or world access; ignored (permissions should be u=rw, 0600)",
            path.display()
        ));
    }
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    Ok(text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .map(split_pgpass_line)
        .find(|fields| {
            fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(wanted)
                    .all(|(field, want)| field == "*" || field == want)
        })
        .map(|mut fields| fields.swap_remove(4)))
}

fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().unwrap().extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(unix)]
fn others_may_read(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn others_may_read(_: &Path) -> bool {
    false
}

/// The settings of service `name`: from the user's service file, else the system one.
/// `Ok(None)` when no file defines it.
pub fn service_settings(name: &str, files: &[PathBuf]) -> Result<Option<Settings>, String> {
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Some(settings) = section(&text, name, file)? {
            return Ok(Some(settings));
        }
    }
    Ok(None)
}

/// The `key=value` lines of `[name]` in an INI-style service file.
fn section(text: &str, name: &str, file: &Path) -> Result<Option<Settings>, String> {
    let mut current: Option<Settings> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if current.is_some() {
                break;
            }
            if header.trim() == name {
                current = Some(Settings::new());
            }
            continue;
        }
        if let Some(settings) = &mut current {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("{}:{}: expected key=value", file.display(), number + 1))?;
            settings.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn the_first_matching_pgpass_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            dir.path(),
            "pgpass",
            "# comment\nother:5432:*:*:no\ndb.example:5432:hr:ann:s\\:cr\\\\et\n*:*:*:ann:fallback\n",
            0o600,
        );
        let found = |host, db| pgpass_password(&path, host, 5432, db, "ann").unwrap();
        assert_eq!(found("db.example", "hr").as_deref(), Some("s:cr\\et"));
        assert_eq!(found("db.example", "sales").as_deref(), Some("fallback"));
        assert_eq!(pgpass_password(&path, "x", 5432, "hr", "bob"), Ok(None));
        let open = file(dir.path(), "open", "*:*:*:*:pw\n", 0o644);
        let warning = pgpass_password(&open, "x", 5432, "hr", "bob").unwrap_err();
        assert!(warning.contains("group or world access"), "{warning}");
    }

    #[test]
    fn services_come_from_the_first_file_that_defines_them() {
        let dir = tempfile::tempdir().unwrap();
        let user = file(
            dir.path(),
            "user.conf",
            "[hr]\nhost=h1\nport = 5433\n[other]\nhost=x\n",
            0o644,
        );
        let system = file(
            dir.path(),
            "system.conf",
            "[hr]\nhost=sys\n[sales]\ndbname=s\n",
            0o644,
        );
        let files = [user, system];
        let hr = service_settings("hr", &files).unwrap().unwrap();
        assert_eq!(
            hr,
            [("host".into(), "h1".into()), ("port".into(), "5433".into())]
        );
        let sales = service_settings("sales", &files).unwrap().unwrap();
        assert_eq!(sales, [("dbname".to_string(), "s".to_string())]);
        assert_eq!(service_settings("none", &files).unwrap(), None);
    }
}
