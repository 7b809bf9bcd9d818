//! A one-line progress bar on stderr, drawn only when stderr is a terminal
//! and the replay has lasted long enough to want one.

use std::io::Write as _;
use std::time::{Duration, Instant};

/// How long a replay runs before the bar appears.
const SHOW_AFTER: Duration = Duration::from_millis(500);
/// How often the bar is redrawn.
const REDRAW: Duration = Duration::from_millis(100);
const WIDTH: usize = 30;

/// Counts done requests and redraws now and then.
#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: usize,
    problems: usize,
    started: Instant,
    drawn: Option<Instant>,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` requests, drawn if stderr is a terminal.
    pub fn new(total: usize) -> Self {
        use std::io::IsTerminal as _;
        Self::with(total, std::io::stderr().is_terminal())
    }

    /// A bar that is never drawn.
    pub fn quiet(total: usize) -> Self {
        Self::with(total, false)
    }

    fn with(total: usize, enabled: bool) -> Self {
        Self {
            total,
            done: 0,
            problems: 0,
            started: Instant::now(),
            drawn: None,
            enabled,
        }
    }

    /// One more request done; `problem`: it differed or failed.
    pub fn tick(&mut self, problem: bool) {
        self.done += 1;
        self.problems += usize::from(problem);
        if !self.enabled || self.started.elapsed() < SHOW_AFTER {
            return;
        }
        if self.drawn.is_some_and(|at| at.elapsed() < REDRAW) && self.done < self.total {
            return;
        }
        self.drawn = Some(Instant::now());
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{}", self.line());
        let _ = stderr.flush();
    }

    /// Clears the bar, if it was drawn, before the report is printed.
    pub fn finish(&mut self) {
        if self.drawn.take().is_some() {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r{}\r", " ".repeat(self.line().len()));
            let _ = stderr.flush();
        }
    }

    fn line(&self) -> String {
        let filled = (self.done * WIDTH)
            .checked_div(self.total)
            .unwrap_or(WIDTH)
            .min(WIDTH);
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "[{}{}] {}/{} replayed, {} not the same, {rate:.0} req/s",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            self.done,
            self.total,
            self.problems
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_requests_done() {
        let mut progress = Progress::with(4, false);
        progress.tick(false);
        progress.tick(true);
        let line = progress.line();
        assert!(
            line.starts_with(&format!(
                "[{}{}] 2/4 replayed, 1 not the same",
                "#".repeat(15),
                ".".repeat(15)
            )),
            "{line}"
        );
        progress.finish();
    }
}
