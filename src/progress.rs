//! Progress bars on stderr while networks train (hidden in tests and when stderr is not a
//! terminal).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A set of progress bars; hidden ones cost nothing.
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
}

impl Progress {
    /// Bars drawn on stderr (indicatif itself stays silent when stderr is not a terminal).
    pub fn stderr() -> Self {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }

    /// No output at all.
    pub fn hidden() -> Self {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        }
    }

    /// A bar of `len` steps labelled `label`.
    pub fn bar(&self, len: u64, label: impl Into<String>) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>28} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.into());
        bar
    }

    /// Prints a line above the bars.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.multi.is_hidden() {
            return;
        }
        let _ = self.multi.println(line);
    }
}
