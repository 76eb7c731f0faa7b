//! A bounded load client for `lakeshift serve`: C concurrent connections send R requests of
//! ROWS `hired_employees` records each (bodies serialised before the clock starts), then it
//! prints one line in the peers' format:
//! `NAME rows=.. seconds=.. rows_per_s=.. req_per_s=.. p50_ms=.. p99_ms=.. errors=..`
//!
//!   cargo run --release --features bench-client --bin rest-load -- URL TOKEN -c 16 -r 400
//!
//! Stops after R requests or --time-limit seconds, whichever comes first; never unbounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NAMES: [&str; 6] = [
    "Harold Vaughn",
    "José Núñez",
    "Zoë Müller",
    "Łukasz Nowak",
    "Анна Иванов",
    "Ty Almoy",
];

struct Args {
    url: String,
    token: String,
    concurrency: usize,
    requests: usize,
    rows: usize,
    warmup: usize,
    time_limit: Duration,
    name: String,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut args = Args {
        url: String::new(),
        token: String::new(),
        concurrency: 4,
        requests: 100,
        rows: 1000,
        warmup: 2,
        time_limit: Duration::from_secs(120),
        name: "lakeshift".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--concurrency" | "-c" => args.concurrency = number(&value(&arg)?)?,
            "--requests" | "-r" => args.requests = number(&value(&arg)?)?,
            "--rows" => args.rows = number(&value(&arg)?)?,
            "--warmup" => args.warmup = number(&value(&arg)?)?,
            "--time-limit" => args.time_limit = Duration::from_secs(number(&value(&arg)?)? as u64),
            "--name" => args.name = value(&arg)?,
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
            _ => positional.push(arg),
        }
    }
    let [url, token] = <[String; 2]>::try_from(positional)
        .map_err(|_| "usage: rest_load URL TOKEN [--concurrency C] [--requests R] [--rows N] [--time-limit S] [--name NAME]".to_string())?;
    if !(1..=1000).contains(&args.rows)
        || args.requests > 100_000
        || args.time_limit > Duration::from_secs(900)
    {
        return Err("bounds: 1..=1000 rows, at most 100000 requests, at most 900 s".into());
    }
    (args.url, args.token) = (url, token);
    Ok(args)
}

fn number(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

/// A small deterministic generator (the bodies must not depend on a crate's RNG).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn body(rng: &mut Lcg, rows: usize) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..rows)
        .map(|_| {
            serde_json::json!({
                "name": NAMES[rng.below(NAMES.len() as u64) as usize],
                "datetime": format!(
                    "202{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    rng.below(4), 1 + rng.below(12), 1 + rng.below(28),
                    rng.below(24), rng.below(60), rng.below(60)
                ),
                "department_id": 1 + rng.below(12),
                "job_id": 1 + rng.below(183),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "records": records })).expect("serialisable")
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let mut rng = Lcg(7);
    let total = args.warmup + args.requests;
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new((0..total).map(|_| body(&mut rng, args.rows)).collect());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let send = |k: usize| {
        client
            .post(&args.url)
            .bearer_auth(&args.token)
            .header("content-type", "application/json")
            .body(bodies[k].clone())
            .send()
    };
    for k in 0..args.warmup {
        let ok = send(k)
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if !ok {
            eprintln!("error: the warm-up request failed; is the server up and the token valid?");
            std::process::exit(1);
        }
    }
    let next = Arc::new(AtomicUsize::new(args.warmup));
    let deadline = Instant::now() + args.time_limit;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (next, client, bodies) = (Arc::clone(&next), client.clone(), Arc::clone(&bodies));
        let (url, token) = (args.url.clone(), args.token.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= bodies.len() || Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(bodies[k].clone())
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(t0.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (l, e) = worker.await.expect("a worker");
        latencies.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let ms = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let ok = latencies.len();
    let rows = ok * args.rows;
    println!(
        "{} rows={rows} seconds={seconds:.3} rows_per_s={:.0} req_per_s={:.2} p50_ms={:.1} p99_ms={:.1} errors={errors}",
        args.name,
        rows as f64 / seconds,
        ok as f64 / seconds,
        ms(0.5),
        ms(0.99),
    );
}
