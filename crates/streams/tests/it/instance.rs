//! One streams instance on its own thread: a raw pass-through topology from one topic to
//! another, run by the library as `metricpipe streams` runs it, stopped through its flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use metricpipe_streams::{RunSummary, RuntimeConfig, StreamsBuilder, StreamsError};

pub struct Instance {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<RunSummary, StreamsError>>,
}

impl Instance {
    /// Starts copying `input` to `output` under `config`.
    pub fn start(config: RuntimeConfig, input: &str, output: &str) -> Self {
        let builder = StreamsBuilder::raw();
        builder.stream(input).to(output);
        let topology = builder.build();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || metricpipe_streams::run(&topology, &config, flag));
        Instance { stop, thread }
    }

    /// Whether the run has ended (on its own: a fatal error, a fencing).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Sets the stop flag and returns what the run returned.
    ///
    /// # Panics
    /// If the run's thread panicked.
    pub fn stop(self) -> Result<RunSummary, StreamsError> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
