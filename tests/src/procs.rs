//! Child processes and machine readings shared by the benchmark and load
//! programs (`src/bin/*`) and the fault tests: the platform's release binaries
//! started on free ports with only the settings given, stopped when dropped,
//! and what `/proc` says about them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use uuid::Uuid;

/// A child process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Proc {
    child: Child,
    /// Its standard output and error.
    pub log: PathBuf,
}

impl Proc {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the process gets no chance to clean up (crash tests).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if !self.running() {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        for _ in 0..100 {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill9();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A command for `bin` with only the `FILIERIS_*`/`DATABASE_URL` settings
/// given here: nothing inherited from a developer's shell.
pub fn command(bin: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("FILIERIS_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts `bin` with `env`, its output in `logs/<name>.log`.
pub fn spawn(name: &str, bin: &Path, env: &[(&str, String)], logs: &Path) -> anyhow::Result<Proc> {
    let log = logs.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let child =
        command(bin, env).stdin(Stdio::null()).stdout(out).stderr(err).spawn().with_context(|| format!("starting {}", bin.display()))?;
    Ok(Proc { child, log })
}

/// A loopback address nobody listens on right now.
pub fn free_addr() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.to_string())
}

/// 64 random hex characters (a 32-byte key).
pub fn random_hex() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// The workspace root and the directory of release binaries.
pub fn release_dir() -> anyhow::Result<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("workspace root")?.to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok((root, target.join("release")))
}

/// `cargo build --release --bins` of the given packages and this crate (so
/// features resolve as for `cargo run -p filieris-e2e`: no second build).
pub fn build_release(root: &Path, packages: &[&str]) -> anyhow::Result<()> {
    let mut args = vec!["build", "--release"];
    for p in packages.iter().copied().chain(["filieris-e2e"]) {
        args.extend(["-p", p]);
    }
    args.push("--bins");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).current_dir(root).args(&args).status()?;
    anyhow::ensure!(status.success(), "cargo build --release failed");
    Ok(())
}

// ------------------------------------------------------------------ /proc

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), 0 when unreadable.
pub fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok())))
        .unwrap_or(0)
}

/// The value after `prefix…:` on the first matching line of a text file.
pub fn first_line_with(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(prefix)).map(|l| l.split_once(':').map_or(l, |x| x.1).trim().to_owned()))
        .unwrap_or_default()
}

/// Date, commit, CPU, memory and load: the heading of every figure table.
pub fn machine_description(root: &Path) -> Vec<(String, String)> {
    let commit = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let dirty = Command::new("git").current_dir(root).args(["diff-index", "--quiet", "HEAD", "--"]).status().is_ok_and(|s| !s.success());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    vec![
        ("Date (UTC)".to_owned(), chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string()),
        ("Commit".to_owned(), format!("{commit}{}", if dirty { " + uncommitted changes" } else { "" })),
        (
            "CPU".to_owned(),
            format!("{} × {}", std::thread::available_parallelism().map_or(0, |n| n.get()), first_line_with("/proc/cpuinfo", "model name")),
        ),
        ("Memory".to_owned(), first_line_with("/proc/meminfo", "MemTotal")),
        ("Load average before the run".to_owned(), load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
    ]
}

/// Replaces the text between `<!-- {tag}:begin -->` and `<!-- {tag}:end -->`
/// in `docs/benchmarks.md` with `block` (appended when the markers are absent).
pub fn write_doc(root: &Path, tag: &str, program: &str, block: &str) -> anyhow::Result<PathBuf> {
    let (begin, end) = (format!("<!-- {tag}:begin -->"), format!("<!-- {tag}:end -->"));
    let path = root.join("docs/benchmarks.md");
    let generated = format!("{begin}\n<!-- written by `{program}`; edit outside the markers -->\n\n{block}\n{end}");
    let text = match std::fs::read_to_string(&path) {
        Ok(old) => match (old.find(&begin), old.find(&end)) {
            (Some(b), Some(e)) if b < e => format!("{}{generated}{}", &old[..b], &old[e + end.len()..]),
            _ => format!("{old}\n{generated}\n"),
        },
        Err(_) => format!("# Benchmarks\n\n{generated}\n"),
    };
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Latency percentiles (milliseconds) of a sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `ms` (sorted in place).
    pub fn of(ms: &mut [f64]) -> Self {
        if ms.is_empty() {
            return Self::default();
        }
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Self { count: ms.len(), p50: rank(0.50), p99: rank(0.99), max: ms[ms.len() - 1] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut ms: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut ms);
        assert_eq!((p.count, p.p50, p.p99, p.max), (100, 50.0, 99.0, 100.0));
        let mut one = vec![7.0];
        let p = Percentiles::of(&mut one);
        assert_eq!((p.p50, p.p99), (7.0, 7.0));
        assert_eq!(Percentiles::of(&mut []).count, 0);
    }

    #[test]
    fn write_doc_replaces_only_between_markers() {
        let dir = std::env::temp_dir().join(format!("procs-doc-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(dir.join("docs/benchmarks.md"), "# B\n\nbefore\n<!-- x:begin -->\nold\n<!-- x:end -->\nafter\n").unwrap();
        write_doc(&dir, "x", "prog", "new").unwrap();
        let text = std::fs::read_to_string(dir.join("docs/benchmarks.md")).unwrap();
        assert!(text.starts_with("# B\n\nbefore\n<!-- x:begin -->"));
        assert!(text.contains("new\n<!-- x:end -->\nafter\n"));
        assert!(!text.contains("old"));
        write_doc(&dir, "y", "prog", "other").unwrap();
        let text = std::fs::read_to_string(dir.join("docs/benchmarks.md")).unwrap();
        assert!(text.contains("<!-- y:begin -->") && text.contains("new"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
