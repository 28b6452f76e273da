//! Criterion's measurement of the benchmark thread's own CPU time, shared by the benches:
//! what "per core" means, and honest when other processes share the machine's cores.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID).
pub struct ThreadCpuTime(pub WallTime);

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

/// `main` for a bench whose `$bench(c, group)` runs once on wall time (`$name/…`) and once
/// on the thread's CPU time (`$name-cpu/…`).
#[macro_export]
macro_rules! wall_and_cpu_main {
    ($bench:ident, $name:literal) => {
        fn wall(c: &mut criterion::Criterion) {
            $bench(c, $name);
        }
        fn cpu(c: &mut criterion::Criterion<cpu_time::ThreadCpuTime>) {
            $bench(c, concat!($name, "-cpu"));
        }
        criterion::criterion_group!(wall_time, wall);
        criterion::criterion_group! {
            name = cpu_time_group;
            config = criterion::Criterion::default()
                .with_measurement(cpu_time::ThreadCpuTime(criterion::measurement::WallTime));
            targets = cpu
        }
        criterion::criterion_main!(wall_time, cpu_time_group);
    };
}
