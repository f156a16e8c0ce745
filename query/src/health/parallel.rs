//! Two pieces of one health answer computed at the same time: the figures of a window are
//! counted from independent metric families (calls and duration buckets, the services and the
//! edges), each a blocking read of the metric store, so a second thread puts the machine's
//! other core to work on the same request.

use sightline_store::scan;

/// Runs `here` on the calling thread and `there` on a scoped second thread at the same time,
/// both under the calling thread's query scan budget, and returns both results. A panic in
/// `there` is resumed on the caller.
pub fn join<A, B>(here: impl FnOnce() -> A, there: impl FnOnce() -> B + Send) -> (A, B)
where
    B: Send,
{
    let budget = scan::current();
    std::thread::scope(|scope| {
        let other = scope.spawn(move || scan::in_budget(budget, there));
        let first = here();
        let second = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_run_and_return_in_order() {
        let (a, b) = join(|| 1 + 1, || std::thread::current().id());
        assert_eq!(a, 2);
        assert_ne!(b, std::thread::current().id());
    }
}
