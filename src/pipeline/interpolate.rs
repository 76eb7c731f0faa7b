//! `${VAR}` and `${VAR:-default}` in pipeline strings, expanded from the environment before
//! the YAML is mapped onto the spec, so every problem can be reported with its YAML path.

use serde_yaml::Value;

/// Expand every string in `value`; problems are collected as `path: message`.
pub fn expand(
    value: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) {
    match value {
        Value::String(s) => match expand_str(s, lookup) {
            Ok(expanded) => *s = expanded,
            Err(message) => problems.push(format!("{path}: {message}")),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &format!("{path}[{i}]"), lookup, problems);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = key.as_str().unwrap_or("?");
                let child = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                expand(item, &child, lookup, problems);
            }
        }
        _ => {}
    }
}

fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
        let (name, default) = match after[..end].split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (&after[..end], None),
        };
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_defaults_and_missing_ones() {
        let env = |name: &str| (name == "HOST").then(|| "db".to_string());
        assert_eq!(
            expand_str("postgres://${HOST}/x", &env).unwrap(),
            "postgres://db/x"
        );
        assert_eq!(expand_str("${PORT:-5432}", &env).unwrap(), "5432");
        assert_eq!(expand_str("${DIR:-}", &env).unwrap(), "");
        assert!(
            expand_str("${NOPE}", &env)
                .unwrap_err()
                .contains("NOPE is not set")
        );
        let mut value: Value = serde_yaml::from_str("steps:\n  - file: ${NOPE}\n").unwrap();
        let mut problems = Vec::new();
        expand(&mut value, "", &env, &mut problems);
        assert_eq!(
            problems,
            vec!["steps[0].file: environment variable NOPE is not set"]
        );
    }
}
