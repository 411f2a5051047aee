//! Progress while networks train and models run: bars on stderr (hidden in tests and when
//! stderr is not a terminal), or reported to a [`ProgressSink`] that a host draws in its own
//! way (the Python package hands them to tqdm, which draws in a terminal and in Jupyter).
//! A sink can also stop a run between steps (Ctrl-C in a notebook), which the long loops see
//! as [`Error::Interrupted`](crate::Error::Interrupted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};

/// Someone who draws progress: told when a bar starts, moves and ends, and asked between
/// steps whether the run should stop. Calls come at most every [`SINK_INTERVAL`] per bar,
/// besides its start and end.
pub trait ProgressSink: Send + Sync {
    /// A bar of `len` steps labelled `label` started; `bar` names it in later calls.
    fn start(&self, bar: u64, len: u64, label: &str);
    /// The bar reached `position` steps; `message` is its latest status (a loss), or empty.
    fn update(&self, bar: u64, position: u64, message: &str);
    /// The bar is done.
    fn finish(&self, bar: u64);
    /// A line of text for the user.
    fn line(&self, text: &str);
    /// Whether the run should stop now (asked between steps).
    fn interrupted(&self) -> bool {
        false
    }
}

/// How often a bar reports to its sink.
pub const SINK_INTERVAL: Duration = Duration::from_millis(100);

/// A set of progress bars; hidden ones cost nothing.
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    sink: Option<Arc<dyn ProgressSink>>,
    next_bar: Arc<AtomicU64>,
}

impl Progress {
    /// Bars drawn on stderr (indicatif itself stays silent when stderr is not a terminal).
    pub fn stderr() -> Self {
        Self::drawn(ProgressDrawTarget::stderr())
    }

    /// Bars on stderr, or none when `quiet`.
    pub fn unless_quiet(quiet: bool) -> Self {
        if quiet {
            Self::hidden()
        } else {
            Self::stderr()
        }
    }

    /// No output at all.
    pub fn hidden() -> Self {
        Self::drawn(ProgressDrawTarget::hidden())
    }

    fn drawn(target: ProgressDrawTarget) -> Self {
        Progress {
            multi: MultiProgress::with_draw_target(target),
            sink: None,
            next_bar: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The same bars, also reported to `sink` (which may stop the run).
    pub fn with_sink(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// A bar of `len` steps labelled `label`.
    pub fn bar(&self, len: u64, label: impl Into<String>) -> Bar {
        let label = label.into();
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>28} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.clone());
        let id = self.next_bar.fetch_add(1, Ordering::Relaxed);
        if let Some(sink) = &self.sink {
            sink.start(id, len, &label);
        }
        Bar {
            bar,
            sink: self.sink.clone(),
            id,
            last: Mutex::new(Instant::now()),
        }
    }

    /// Prints a line above the bars.
    pub fn println(&self, line: impl AsRef<str>) {
        if let Some(sink) = &self.sink {
            sink.line(line.as_ref());
        }
        if self.multi.is_hidden() {
            return;
        }
        let _ = self.multi.println(line);
    }

    /// [`Error::Interrupted`] when the sink asks to stop.
    pub fn check(&self) -> Result<()> {
        match &self.sink {
            Some(sink) if sink.interrupted() => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }
}

/// One progress bar: drawn by indicatif and reported to the sink, if any.
pub struct Bar {
    bar: ProgressBar,
    sink: Option<Arc<dyn ProgressSink>>,
    id: u64,
    last: Mutex<Instant>,
}

impl Bar {
    /// Moves `n` steps on; [`Error::Interrupted`] when the sink asks to stop.
    pub fn inc(&self, n: u64) -> Result<()> {
        self.bar.inc(n);
        self.report()
    }

    /// Moves to `position`; [`Error::Interrupted`] when the sink asks to stop.
    pub fn set_position(&self, position: u64) -> Result<()> {
        self.bar.set_position(position);
        self.report()
    }

    /// The bar's status text (a loss).
    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Ends the bar and removes it from the terminal.
    pub fn finish_and_clear(&self) {
        // Where it got to (training may stop early), read before indicatif fills the bar.
        let position = self.bar.position();
        self.bar.finish_and_clear();
        if let Some(sink) = &self.sink {
            sink.update(self.id, position, &self.bar.message());
            sink.finish(self.id);
        }
    }

    fn report(&self) -> Result<()> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < SINK_INTERVAL {
            return Ok(());
        }
        *last = Instant::now();
        drop(last);
        sink.update(self.id, self.bar.position(), &self.bar.message());
        if sink.interrupted() {
            return Err(Error::Interrupted);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<String>>,
        stop: AtomicBool,
    }

    impl ProgressSink for Recorder {
        fn start(&self, bar: u64, len: u64, label: &str) {
            self.events
                .lock()
                .unwrap()
                .push(format!("start {bar} {len} {label}"));
        }
        fn update(&self, bar: u64, position: u64, _message: &str) {
            self.events
                .lock()
                .unwrap()
                .push(format!("update {bar} {position}"));
        }
        fn finish(&self, bar: u64) {
            self.events.lock().unwrap().push(format!("finish {bar}"));
        }
        fn line(&self, text: &str) {
            self.events.lock().unwrap().push(format!("line {text}"));
        }
        fn interrupted(&self) -> bool {
            self.stop.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn a_sink_sees_bars_start_move_and_finish_with_their_final_position() {
        let recorder = Arc::new(Recorder::default());
        let progress = Progress::hidden().with_sink(recorder.clone());
        let first = progress.bar(10, "classifying");
        let second = progress.bar(3, "training");
        for _ in 0..10 {
            first.inc(1).unwrap();
        }
        first.finish_and_clear();
        second.set_position(2).unwrap();
        second.finish_and_clear();
        progress.println("done");
        let events = recorder.events.lock().unwrap().clone();
        assert_eq!(events[0], "start 0 10 classifying");
        assert_eq!(events[1], "start 1 3 training");
        let end = events.iter().position(|e| e == "finish 0").unwrap();
        assert_eq!(events[end - 1], "update 0 10");
        assert!(events.contains(&"update 1 2".to_string()));
        assert_eq!(events.last().unwrap(), "line done");
    }

    #[test]
    fn a_sink_that_asks_to_stop_interrupts_the_next_step() {
        let recorder = Arc::new(Recorder::default());
        let progress = Progress::hidden().with_sink(recorder.clone());
        assert!(progress.check().is_ok());
        recorder.stop.store(true, Ordering::Relaxed);
        assert!(matches!(progress.check(), Err(Error::Interrupted)));
        let bar = progress.bar(5, "training");
        std::thread::sleep(SINK_INTERVAL);
        assert!(matches!(bar.inc(1), Err(Error::Interrupted)));
    }

    #[test]
    fn without_a_sink_nothing_interrupts() {
        let progress = Progress::hidden();
        let bar = progress.bar(2, "x");
        std::thread::sleep(SINK_INTERVAL);
        assert!(bar.inc(1).is_ok() && progress.check().is_ok());
    }
}
