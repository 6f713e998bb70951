//! Soak of `klaxon serve` (docs/performance.md, "Soak"): measures the peak ingest rate of a
//! fresh server, then runs it for `--duration` at `--share` of that rate with a `kill -9` and
//! restart every `--kill-every`, sampling the server's resident memory, open file handles and
//! the data directory's size, and reports whether they grew.
//!
//! ```sh
//! cargo build --release -p klaxon -p klaxon-soak
//! nice -n 10 target/release/klaxon-soak --duration 1h
//! ```
//!
//! The load: native alerts (the example configuration's `deploy-pipeline` integration) over 20
//! groups, each dedup key fired and resolved `--hold` later, so incidents open, page (into the
//! outbox; webhooks are off), escalate on their timers and auto-resolve, as in production.

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Soak klaxon serve: steady load, kill -9 and restart, resource samples")]
struct Args {
    /// The klaxon binary (build it with `cargo build --release -p klaxon`).
    #[arg(long, default_value = "target/release/klaxon")]
    klaxon: PathBuf,
    /// The configuration `klaxon serve` runs.
    #[arg(long, default_value = "examples/klaxon.yaml")]
    config: PathBuf,
    /// The data directory (a fresh temporary one when absent; it must not exist yet).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// How long the steady phase runs (`90s`, `10m`, `1h`).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    duration: Duration,
    /// How long the peak is measured.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    peak_for: Duration,
    /// Concurrent senders while measuring the peak.
    #[arg(long, default_value_t = 16)]
    peak_senders: usize,
    /// The steady rate as a share of the measured peak.
    #[arg(long, default_value_t = 0.10)]
    share: f64,
    /// Time between `kill -9`s of the server (each followed by a restart at once).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    kill_every: Duration,
    /// How long each steady-phase alert fires before its resolve is sent: longer than
    /// grouping takes to see it, so its incident pages (an alert resolved before grouping saw
    /// it fire resolves its incident without paging anyone, docs/design.md).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    hold: Duration,
    /// Time between samples.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    sample_every: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit (90s, 10m, 1h)"))?;
    let seconds = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A running `klaxon serve`.
struct Server {
    child: Child,
    started: Instant,
}

/// Where the server listens and the key alerts are posted with.
#[derive(Clone)]
struct Target {
    url: String,
    key: String,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Starts `klaxon serve` and reads its JSON banner.
fn start(args: &Args, data_dir: &Path, port: u16) -> anyhow::Result<(Server, Value)> {
    let mut child = Command::new(&args.klaxon)
        .arg("serve")
        .arg("--config")
        .arg(&args.config)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--no-webhooks")
        .arg("--json")
        // The example configuration names these; with --no-webhooks nothing is posted.
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/soak")
        .env("TEAMS_WEBHOOK_URL", "https://teams.invalid/soak")
        .env("WEBHOOK_URL", "https://webhook.invalid/soak")
        .env("WEBHOOK_SIGNING_SECRET", "soak-signing-secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", args.klaxon.display()))?;
    let started = Instant::now();
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    if line.trim().is_empty() {
        let status = child.wait()?;
        bail!("klaxon serve printed no banner ({status})");
    }
    let banner: Value = serde_json::from_str(&line).context("the banner is not JSON")?;
    Ok((Server { child, started }, banner))
}

fn target_of(banner: &Value) -> anyhow::Result<Target> {
    let url = banner["public_url"]
        .as_str()
        .context("banner without public_url")?
        .trim_end_matches('/')
        .to_owned();
    let integration = banner["integrations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["format"] == json!("native"))
        .context("the configuration has no native integration")?;
    Ok(Target {
        url,
        key: integration["key"].as_str().context("no key")?.to_owned(),
    })
}

/// Request `n`'s body: key `prefix-(n / 2 mod keys)` (over 20 groups) fired (`n` even),
/// then resolved (`n` odd).
fn alert(prefix: &str, keys: u64, n: u64) -> Value {
    let key = (n / 2) % keys;
    let status = if n.is_multiple_of(2) {
        "firing"
    } else {
        "resolved"
    };
    json!({
        "dedup_key": format!("{prefix}-{key}"),
        "status": status,
        "severity": "critical",
        "summary": format!("soak alert {key}"),
        "source": "soak",
        "group": format!("soak-g{}", key % 20),
    })
}

/// Steady-phase request `n`'s body: key `soak-(n / 2 mod keys)` fired (`n` even), and the key
/// fired `hold` pairs of requests earlier resolved (`n` odd; until then, another fire of the
/// current key, a duplicate).
fn steady_alert(keys: u64, hold: u64, n: u64) -> Value {
    let pair = n / 2;
    if n.is_multiple_of(2) || pair < hold {
        return alert("soak", keys, 2 * pair);
    }
    alert("soak", keys, 2 * (pair - hold) + 1)
}

/// Counts of answers.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

async fn post(client: &reqwest::Client, target: &Target, body: &Value, counts: &Counts) {
    let result = client
        .post(format!("{}/v1/alerts", target.url))
        .bearer_auth(&target.key)
        .json(body)
        .send()
        .await;
    let counter = match result {
        Ok(response) if response.status().is_success() => &counts.ok,
        Ok(_) => &counts.refused,
        Err(_) => &counts.failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Alerts accepted a second with `senders` senders as fast as they go, for `period`: each
/// sender fires a new alert and resolves it, again and again (so nothing stays open).
async fn peak(target: &Target, senders: usize, period: Duration) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + period;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..senders {
        let (client, target, counts, next) = (
            client.clone(),
            target.clone(),
            Arc::clone(&counts),
            Arc::clone(&next),
        );
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let n = next.fetch_add(2, Ordering::Relaxed);
                for request in [n, n + 1] {
                    let body = alert("soak-peak", u64::MAX, request);
                    post(&client, &target, &body, &counts).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let ok = counts.ok.load(Ordering::Relaxed);
    let bad = counts.refused.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed);
    println!(
        "peak: {ok} alerts accepted in {:.0} s by {senders} senders ({bad} not accepted)",
        period.as_secs_f64()
    );
    Ok(ok as f64 / period.as_secs_f64())
}

/// One sample of the server process and the data directory.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
    dir_bytes: u64,
}

fn sample(pid: u32, data_dir: &Path) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    Sample {
        rss_kib,
        fds,
        dir_bytes: dir_size(data_dir),
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

fn file_sizes(dir: &Path) -> Vec<(String, u64)> {
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let len = e.metadata().ok()?.len();
            Some((e.file_name().to_string_lossy().into_owned(), len))
        })
        .collect();
    sizes.sort();
    sizes
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One server lifetime's samples, summarised.
struct Life {
    index: usize,
    seconds: f64,
    first: Sample,
    last: Sample,
    max_rss_kib: u64,
    max_fds: usize,
}

impl Life {
    fn print(&self) {
        println!(
            "life {:>2}: {:>5.0} s, RSS {:>6} -> {:>6} KiB (max {:>6}), fds {:>3} -> {:>3} (max {:>3}), data dir {:.1} -> {:.1} MiB",
            self.index,
            self.seconds,
            self.first.rss_kib,
            self.last.rss_kib,
            self.max_rss_kib,
            self.first.fds,
            self.last.fds,
            self.max_fds,
            mib(self.first.dir_bytes),
            mib(self.last.dir_bytes),
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temporary = std::env::temp_dir().join(format!("klaxon-soak-{}", std::process::id()));
    let data_dir = args.data_dir.clone().unwrap_or(temporary);
    if data_dir.exists() {
        bail!("--data-dir {}: already exists", data_dir.display());
    }
    let port = free_port()?;
    let (mut server, banner) = start(&args, &data_dir, port)?;
    let target = target_of(&banner)?;
    println!(
        "klaxon serve at {} (pid {}), data directory {}",
        target.url,
        server.child.id(),
        data_dir.display()
    );

    let peak_rate = peak(&target, args.peak_senders, args.peak_for).await?;
    let rate = (peak_rate * args.share).max(1.0);
    println!(
        "measured peak {peak_rate:.0} alerts/s; steady load {rate:.1} alerts/s ({:.0} %) for {} s, each alert held {} s, kill -9 every {} s",
        args.share * 100.0,
        args.duration.as_secs(),
        args.hold.as_secs(),
        args.kill_every.as_secs()
    );
    // The peak's backlog (grouping, incidents, pages) is worked off before the steady phase.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after_peak = dir_size(&data_dir);
    println!("data directory after the peak: {:.1} MiB", mib(after_peak));

    let counts = Arc::new(Counts::default());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let (stop_load, mut load_stopped) = tokio::sync::watch::channel(false);
    // Fire and resolve pairs sent while an alert is held open.
    let hold_pairs = (args.hold.as_secs_f64() * rate / 2.0).round() as u64;
    let load = {
        let (counts, target) = (Arc::clone(&counts), target.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = load_stopped.changed() => break,
                }
                let (client, target, counts) =
                    (client.clone(), target.clone(), Arc::clone(&counts));
                let body = steady_alert(2000, hold_pairs, n);
                tokio::spawn(async move { post(&client, &target, &body, &counts).await });
                n += 1;
            }
        })
    };

    let soak_start = Instant::now();
    let mut lives = Vec::new();
    let mut life_first = sample(server.child.id(), &data_dir);
    let mut life_last;
    let (mut max_rss, mut max_fds) = (life_first.rss_kib, life_first.fds);
    let mut kills = 0;
    let mut next_kill = Instant::now() + args.kill_every;
    while soak_start.elapsed() < args.duration {
        tokio::time::sleep(args.sample_every).await;
        let s = sample(server.child.id(), &data_dir);
        (max_rss, max_fds) = (max_rss.max(s.rss_kib), max_fds.max(s.fds));
        life_last = s;
        let done = soak_start.elapsed() >= args.duration;
        if Instant::now() >= next_kill && !done {
            lives.push(Life {
                index: lives.len() + 1,
                seconds: server.started.elapsed().as_secs_f64(),
                first: life_first,
                last: life_last,
                max_rss_kib: max_rss,
                max_fds,
            });
            if let Some(life) = lives.last() {
                life.print();
            }
            // std's Child::kill is SIGKILL: no shutdown, no flush, as a power cut.
            server.child.kill()?;
            server.child.wait()?;
            kills += 1;
            let (restarted, banner) = start(&args, &data_dir, port)?;
            server = restarted;
            println!(
                "kill -9 #{kills}; restarted as pid {} in {:.1} s (recovered leases {}, queued {}, dead letters {})",
                server.child.id(),
                server.started.elapsed().as_secs_f64(),
                banner["recovered_leases"],
                banner["queued_messages"],
                banner["dead_letters"],
            );
            life_first = sample(server.child.id(), &data_dir);
            (max_rss, max_fds) = (life_first.rss_kib, life_first.fds);
            next_kill = Instant::now() + args.kill_every;
        }
    }
    let _ = stop_load.send(true);
    load.await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    life_last = sample(server.child.id(), &data_dir);
    lives.push(Life {
        index: lives.len() + 1,
        seconds: server.started.elapsed().as_secs_f64(),
        first: life_first,
        last: life_last,
        max_rss_kib: max_rss.max(life_last.rss_kib),
        max_fds: max_fds.max(life_last.fds),
    });
    if let Some(life) = lives.last() {
        life.print();
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()?;
    if !status.success() {
        bail!("kill -TERM failed");
    }
    let exit = server.child.wait()?;

    let (ok, refused, failed) = (
        counts.ok.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
    );
    println!(
        "steady phase: {:.0} s, {ok} alerts accepted, {refused} refused (non-2xx), {failed} unanswered (server down or timed out); {kills} kill -9s; final stop: {exit}",
        soak_start.elapsed().as_secs_f64()
    );
    let (first, last) = (&lives[0], &lives[lives.len() - 1]);
    println!(
        "RSS at the end of the first life {} KiB, of the last {} KiB; highest of any life {} KiB",
        first.last.rss_kib,
        last.last.rss_kib,
        lives.iter().map(|l| l.max_rss_kib).max().unwrap_or(0)
    );
    println!(
        "open files at the end of the first life {}, of the last {}; highest of any life {}",
        first.last.fds,
        last.last.fds,
        lives.iter().map(|l| l.max_fds).max().unwrap_or(0)
    );
    println!(
        "data directory: {:.1} MiB after the peak, {:.1} MiB at the end",
        mib(after_peak),
        mib(dir_size(&data_dir))
    );
    for (name, bytes) in file_sizes(&data_dir) {
        println!("  {name}: {:.2} MiB", mib(bytes));
    }
    // Every page goes to the outbox (webhooks are off): none would mean nothing was paged.
    let pages = std::fs::read_to_string(data_dir.join("outbox.jsonl"))
        .map_or(0, |text| text.lines().count());
    println!("pages in the outbox: {pages}");
    retention_report(&data_dir, ok)?;
    Ok(())
}

/// What the data directory holds against the retention settings: per kind of item (the key
/// prefixes of its partition and sort keys), how many, their bytes, how many carry an expiry
/// and how many are past it; and the queue tables. A kind without expiries grows for good
/// (incidents and their timelines are kept); one with expiries levels off once the oldest
/// reach their retention.
fn retention_report(data_dir: &Path, accepted: u64) -> anyhow::Result<()> {
    use klaxon_store::repo::{ALERT_RETENTION, CHANGE_RETENTION, REQUEST_RETENTION};
    let database = data_dir.join("klaxon.db");
    let connection = rusqlite::Connection::open_with_flags(
        &database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .with_context(|| format!("opening {}", database.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    println!(
        "retention: resolved alerts and their bodies {} days, sender request records {} days, \
         configuration changes {} days; incidents, timelines and deliveries are kept",
        ALERT_RETENTION.as_secs() / 86_400,
        REQUEST_RETENTION.as_secs() / 86_400,
        CHANGE_RETENTION.as_secs() / 86_400
    );
    let mut statement = connection.prepare(
        "SELECT CASE WHEN instr(pk, '#') > 0 THEN substr(pk, 1, instr(pk, '#') - 1) ELSE pk END
                || ' / ' ||
                CASE WHEN instr(sk, '#') > 0 THEN substr(sk, 1, instr(sk, '#') - 1) ELSE sk END,
                count(*), sum(length(body)), sum(ttl IS NOT NULL), sum(ttl IS NOT NULL AND ttl <= ?1)
           FROM items GROUP BY 1 ORDER BY 3 DESC",
    )?;
    let rows = statement.query_map([now], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, i64>(4)?,
        ))
    })?;
    let mut total_bytes = 0;
    println!("  items by kind (pk / sk prefix): count, body bytes, with an expiry, expired");
    for row in rows {
        let (kind, count, bytes, with_ttl, expired) = row?;
        total_bytes += bytes;
        println!(
            "    {kind}: {count}, {:.2} MiB, {with_ttl}, {expired}",
            mib(bytes as u64)
        );
    }
    for table in [
        "queue_messages",
        "queue_dedup",
        "queue_dead_letters",
        "timers",
    ] {
        let count: i64 =
            connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })?;
        println!("  {table}: {count} rows");
    }
    if accepted > 0 {
        println!(
            "  item bodies per accepted steady-phase alert: {:.0} bytes (the peak's alerts included)",
            total_bytes as f64 / accepted as f64
        );
    }
    Ok(())
}
