//! `demo generate`: the three HR CSV files in exactly the format of the historical exports
//! (headerless, CRLF, `...Z` UTC datetimes, about 3.5% of employee rows with one empty field,
//! names with `'` and `-`, job titles with `/`), deterministic for a seed, for demos, tests
//! and benchmarks of any size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const DEPARTMENTS: [&str; 12] = [
    "Product Management",
    "Sales",
    "Research and Development",
    "Business Development",
    "Engineering",
    "Human Resources",
    "Services",
    "Support",
    "Marketing",
    "Training",
    "Legal",
    "Accounting",
];

const JOB_ROLES: [&str; 46] = [
    "Marketing Assistant",
    "VP Sales",
    "Biostatistician",
    "Account Representative",
    "VP Marketing",
    "Environmental Specialist",
    "Software Consultant",
    "Office Assistant",
    "Information Systems Manager",
    "Desktop Support Technician",
    "Financial Advisor",
    "Computer Systems Analyst",
    "Automation Specialist",
    "Help Desk Technician",
    "VP Quality Control",
    "Financial Analyst",
    "Electrical Engineer",
    "Chemical Engineer",
    "Social Worker",
    "VP Product Management",
    "Administrative Officer",
    "Paralegal",
    "Actuary",
    "Database Administrator",
    "Nuclear Power Engineer",
    "GIS Technical Architect",
    "Human Resources Assistant",
    "Research Nurse",
    "Structural Engineer",
    "Analyst Programmer",
    "Developer",
    "Systems Administrator",
    "Web Designer",
    "Staff Accountant",
    "Tax Accountant",
    "Quality Engineer",
    "Programmer Analyst",
    "Budget/Accounting Analyst",
    "Sales/Marketing Coordinator",
    "Payment Adjustment Coordinator",
    "Recruiting Manager",
    "Legal Assistant",
    "Geological Engineer",
    "Safety Technician",
    "Media Manager",
    "Teacher/Trainer",
];
const LEVELS: [&str; 4] = ["I", "II", "III", "IV"];
pub const JOB_COUNT: usize = 183;

const FIRST: [&str; 40] = [
    "Harold",
    "Ty",
    "Lyman",
    "Lotti",
    "Gretna",
    "Marlow",
    "Joan",
    "Ulrick",
    "Lucretia",
    "Arty",
    "Libbi",
    "Jacky",
    "Raine",
    "Melonie",
    "Robers",
    "Bone",
    "Andee",
    "Gay",
    "Loralie",
    "Tobi",
    "Mandel",
    "Toddy",
    "Jeremias",
    "Lemar",
    "Tanner",
    "Bartolomeo",
    "Elvina",
    "Letitia",
    "Warner",
    "Geri",
    "Jerald",
    "Wilt",
    "Aldwin",
    "Corena",
    "Malchy",
    "Gasparo",
    "Helen-elizabeth",
    "Nikkie",
    "Louisa",
    "Jean-luc",
];
const LAST: [&str; 40] = [
    "Vogt",
    "Hofer",
    "Hadye",
    "Crowthe",
    "Lording",
    "Antecki",
    "Rillett",
    "Nucciotti",
    "Northcote",
    "Giacobo",
    "Dowtry",
    "Oldred",
    "Mowett",
    "Slocomb",
    "Swinden",
    "Serridge",
    "Tillot",
    "Philbin",
    "Dundin",
    "Lawton",
    "Nayer",
    "Gare",
    "Goudy",
    "Aronsohn",
    "Jopling",
    "Fetherstone",
    "Bycraft",
    "D'Enrico",
    "O'Hingerty",
    "O'Garmen",
    "Schleswig-Holstein",
    "Di Francesco",
    "Hellmore",
    "Heritege",
    "Pontain",
    "Ofen",
    "Whinray",
    "Binion",
    "Smith-Jones",
    "Culpin",
];

/// Hire datetimes fall in [2021-01-01, 2022-03-01) UTC, so every quarter of 2021 is covered.
const FIRST_HIRE: i64 = 1_609_459_200;
const HIRE_SPAN_SECONDS: i64 = 36_460_800;

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same files on
/// every platform and version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What `generate` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generated {
    pub dir: PathBuf,
    pub departments: usize,
    pub jobs: usize,
    pub hired_employees: u64,
}

/// The name of job `id` (1-based).
pub fn job_name(id: usize) -> String {
    let role = JOB_ROLES[(id - 1) % JOB_ROLES.len()];
    match (id - 1) / JOB_ROLES.len() {
        0 => role.to_string(),
        level => format!("{role} {}", LEVELS[level - 1]),
    }
}

/// Write `departments.csv`, `jobs.csv` and `hired_employees.csv` (`rows` employees) to `dir`.
pub fn generate(dir: &Path, rows: u64, seed: u64) -> Result<Generated> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let departments: Vec<String> = DEPARTMENTS
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{},{d}", i + 1))
        .collect();
    write_lines(&dir.join("departments.csv"), &departments)?;
    let jobs: Vec<String> = (1..=JOB_COUNT)
        .map(|id| format!("{id},{}", job_name(id)))
        .collect();
    write_lines(&dir.join("jobs.csv"), &jobs)?;
    write_employees(&dir.join("hired_employees.csv"), rows, seed)?;
    Ok(Generated {
        dir: dir.to_path_buf(),
        departments: DEPARTMENTS.len(),
        jobs: JOB_COUNT,
        hired_employees: rows,
    })
}

/// CRLF between lines and none after the last, like the historical small files.
fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    publish(path, |out| out.write_all(lines.join("\r\n").as_bytes()))
}

/// Write through `<path>.partial` and rename, so a crash never leaves a file that looks whole.
fn publish(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let partial = path.with_extension("csv.partial");
    let file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
}

fn write_employees(path: &Path, rows: u64, seed: u64) -> Result<()> {
    publish(path, |out| {
        let mut rng = SplitMix(seed);
        let mut line = Vec::with_capacity(128);
        for id in 1..=rows {
            line.clear();
            // About 3.5% of rows miss exactly one of the four value fields.
            let empty = if rng.below(1000) < 35 {
                rng.below(4) as usize
            } else {
                usize::MAX
            };
            push_int(&mut line, id);
            line.push(b',');
            if empty != 0 {
                line.extend_from_slice(FIRST[rng.below(FIRST.len() as u64) as usize].as_bytes());
                line.push(b' ');
                line.extend_from_slice(LAST[rng.below(LAST.len() as u64) as usize].as_bytes());
            }
            line.push(b',');
            if empty != 1 {
                push_datetime(
                    &mut line,
                    FIRST_HIRE + rng.below(HIRE_SPAN_SECONDS as u64) as i64,
                );
            }
            line.push(b',');
            if empty != 2 {
                push_int(&mut line, 1 + rng.below(DEPARTMENTS.len() as u64));
            }
            line.push(b',');
            if empty != 3 {
                push_int(&mut line, 1 + rng.below(JOB_COUNT as u64));
            }
            line.extend_from_slice(b"\r\n");
            out.write_all(&line)?;
        }
        Ok(())
    })
}

fn push_int(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_two(out: &mut Vec<u8>, v: i64) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (civil-from-days, Howard Hinnant's algorithm).
fn push_datetime(out: &mut Vec<u8>, unix: i64) {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    push_int(out, year as u64);
    out.push(b'-');
    push_two(out, month);
    out.push(b'-');
    push_two(out, day);
    out.push(b'T');
    push_two(out, secs / 3600);
    out.push(b':');
    push_two(out, secs / 60 % 60);
    out.push(b':');
    push_two(out, secs % 60);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_iso_utc() {
        let mut out = Vec::new();
        push_datetime(&mut out, 1_636_253_322);
        assert_eq!(out, b"2021-11-07T02:48:42Z");
        out.clear();
        push_datetime(&mut out, FIRST_HIRE);
        assert_eq!(out, b"2021-01-01T00:00:00Z");
    }

    #[test]
    fn jobs_are_distinct_and_some_have_a_slash() {
        let names: std::collections::HashSet<String> = (1..=JOB_COUNT).map(job_name).collect();
        assert_eq!(names.len(), JOB_COUNT);
        assert!(names.iter().any(|n| n.contains('/')));
    }

    #[test]
    fn same_seed_same_bytes_and_the_real_format() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate(a.path(), 2000, 7).unwrap();
        generate(b.path(), 2000, 7).unwrap();
        let employees = std::fs::read(a.path().join("hired_employees.csv")).unwrap();
        assert_eq!(
            employees,
            std::fs::read(b.path().join("hired_employees.csv")).unwrap()
        );
        let text = String::from_utf8(employees).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2000);
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
        let incomplete = lines
            .iter()
            .filter(|l| l.split(',').any(str::is_empty))
            .count();
        assert!(
            (30..=110).contains(&incomplete),
            "about 3.5% incomplete rows, got {incomplete}"
        );
        assert!(lines.iter().all(|l| l.split(',').count() == 5));
        assert!(text.contains('\''));
        let departments = std::fs::read_to_string(a.path().join("departments.csv")).unwrap();
        assert!(
            departments.starts_with("1,Product Management\r\n") && !departments.ends_with('\n')
        );
    }
}
