//! `lakeshift user hash`: a password hash for the service's config file.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use lakeshift::api::auth::passwords::hash_password;
use lakeshift::{Error, Result};

use super::print;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Print an argon2id hash of a password, for `password_hash` in the config file.
    ///
    /// The password is read without echo on a terminal, else as the first line of
    /// standard input.
    ///
    /// Examples:
    ///   lakeshift user hash
    ///   printf '%s\n' "$PASSWORD" | lakeshift user hash
    #[command(verbatim_doc_comment)]
    Hash,
}

pub fn run(command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Hash => {
            let password = read_password()?;
            if password.is_empty() {
                return Err(Error::Invalid("the password is empty".into()));
            }
            print(&format!("{}\n", hash_password(&password)?))
        }
    }
}

fn read_password() -> Result<String> {
    let failed = |e: std::io::Error| Error::io("<stdin>", e);
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(failed)?;
        let again = rpassword::prompt_password("Again: ").map_err(failed)?;
        if first != again {
            return Err(Error::Invalid("the two passwords differ".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(failed)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
