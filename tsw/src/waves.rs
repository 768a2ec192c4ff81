//! Many environments in one command: at most `jobs` at once, in waves, and no new one started
//! once more than `tolerance` have failed. One place for the schedule `deploy` and `plan` share.

use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// The default of `deploy --jobs`: 8 environments at once. A deploy polls its stack every 1 to
/// 5 s while it waits, so 8 stay far below CloudFormation's API rate limits
/// (docs/many-environments.md).
pub const DEFAULT_JOBS: usize = 8;

/// The default of `plan --jobs`: 16 environments at once. A plan only reads (its change set is
/// deleted as soon as the plan is known, beside the next plans: [`run_with_tails`]) and never
/// waits on a stack, so its requests come close together: 16 plans and 16 deletions have at
/// most 96 requests in flight (4 at once for a plan: GetTemplate and the role's three IAM
/// reads; 2 for a deletion: DeleteChangeSet and DescribeStacks), each of whose throttling
/// retries costs 5 of the 500 units of the SDK's retry quota of one service and region, so even
/// a burst throttled whole is retried with back-off (`tests/integration/many.rs`). 200
/// environments at 100 ms a request: about 4 s of latency.
pub const DEFAULT_PLAN_JOBS: usize = 16;

/// `--jobs N`: a whole number from 1.
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a number of environments at once; allowed: a whole number from 1, e.g. 8"
        )),
    }
}

/// How to run many environments.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// At most this many at once (1: one after the other).
    pub jobs: usize,
    /// Start no new one once more than this many have failed; `None`: go on whatever fails.
    pub tolerance: Option<usize>,
}

/// Runs `start(i)` for every index of `waves` (each item's wave), lower waves first, a wave once
/// the one before has ended, at most `schedule.jobs` at once. Once more than
/// `schedule.tolerance` results are `failed`, no new one starts; those running finish. Returns
/// each index's result in the order of `waves`, `None` for one never started.
pub async fn run<R, F, Fut>(
    waves: &[u16],
    schedule: Schedule,
    mut start: F,
    failed: impl Fn(&R) -> bool,
) -> Vec<Option<R>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = R>,
{
    run_with_tails(
        waves,
        schedule,
        |i| {
            let fut = start(i);
            async move { Step::<R, std::future::Ready<R>>::Done(fut.await) }
        },
        failed,
    )
    .await
}

/// What one item of [`run_with_tails`] resolved to.
pub enum Step<R, T> {
    /// Its result.
    Done(R),
    /// The rest of its work, which nothing else waits on (e.g. deleting what a plan made once
    /// the plan is known), resolving to its result.
    Then(T),
}

/// [`run`], where an item may end with a tail ([`Step::Then`]): the tail runs on beside the
/// next items, whose place it frees, at most `schedule.jobs` tails at once (so at most twice
/// `jobs` items have work under way), and every tail of a wave ends before the next wave
/// starts and before this returns. An item's result is the one its tail resolves to; `failed`
/// is asked of it then.
pub async fn run_with_tails<R, T, F, Fut>(
    waves: &[u16],
    schedule: Schedule,
    mut start: F,
    failed: impl Fn(&R) -> bool,
) -> Vec<Option<R>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Step<R, T>>,
    T: Future<Output = R>,
{
    let mut order: Vec<usize> = (0..waves.len()).collect();
    order.sort_by_key(|&i| waves[i]); // stable: the given order within a wave
    let mut out: Vec<Option<R>> = waves.iter().map(|_| None).collect();
    let mut failures = 0;
    let exceeded = |failures: usize| schedule.tolerance.is_some_and(|t| failures > t);
    let jobs = schedule.jobs.max(1);
    let mut next = 0;
    while next < order.len() && !exceeded(failures) {
        let wave = waves[order[next]];
        let mut running = FuturesUnordered::new();
        let mut tails = FuturesUnordered::new();
        loop {
            while running.len() < jobs
                && tails.len() < jobs
                && next < order.len()
                && waves[order[next]] == wave
                && !exceeded(failures)
            {
                let i = order[next];
                let fut = start(i);
                running.push(async move { (i, fut.await) });
                next += 1;
            }
            let (i, result) = tokio::select! {
                Some((i, step)) = running.next(), if !running.is_empty() => match step {
                    Step::Done(result) => (i, result),
                    Step::Then(tail) => {
                        tails.push(async move { (i, tail.await) });
                        continue;
                    }
                },
                Some((i, result)) = tails.next(), if !tails.is_empty() => (i, result),
                else => break,
            };
            if failed(&result) {
                failures += 1;
            }
            out[i] = Some(result);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// What ran, in the order it started, and the most that ran at once.
    fn trace(
        waves: &[u16],
        schedule: Schedule,
        fails: &[usize],
    ) -> (Vec<Option<usize>>, Vec<usize>, usize) {
        let started = RefCell::new(Vec::new());
        let now = RefCell::new((0usize, 0usize));
        let out = block_on(run(
            waves,
            schedule,
            |i| {
                started.borrow_mut().push(i);
                let now = &now;
                async move {
                    {
                        let mut n = now.borrow_mut();
                        n.0 += 1;
                        n.1 = n.1.max(n.0);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5 + (i as u64 % 3))).await;
                    now.borrow_mut().0 -= 1;
                    i
                }
            },
            |i| fails.contains(i),
        ));
        let peak = now.borrow().1;
        (out, started.into_inner(), peak)
    }

    #[test]
    fn at_most_jobs_at_once_and_lower_waves_first() {
        let waves = [1, 0, 1, 0, 0, 2, 0];
        let (out, started, peak) = trace(
            &waves,
            Schedule {
                jobs: 2,
                tolerance: None,
            },
            &[],
        );
        assert_eq!(peak, 2);
        assert!(out.iter().all(Option::is_some));
        assert_eq!(started, vec![1, 3, 4, 6, 0, 2, 5]);
    }

    #[test]
    fn a_wave_starts_when_the_one_before_has_ended() {
        // 4 of wave 0, 1 of wave 1: with 8 jobs, wave 1 still waits.
        let waves = [0, 0, 0, 0, 1];
        let (_, started, peak) = trace(
            &waves,
            Schedule {
                jobs: 8,
                tolerance: None,
            },
            &[],
        );
        assert_eq!(peak, 4);
        assert_eq!(started.last(), Some(&4));
    }

    #[test]
    fn past_the_tolerance_nothing_new_starts_and_those_running_finish() {
        let waves = [0; 6];
        let (out, _, _) = trace(
            &waves,
            Schedule {
                jobs: 2,
                tolerance: Some(0),
            },
            &[0],
        );
        // 0 and 1 ran together; 0 failed: 1 finished, nothing else started.
        assert_eq!(out, vec![Some(0), Some(1), None, None, None, None]);
        let (out, _, _) = trace(
            &waves,
            Schedule {
                jobs: 1,
                tolerance: Some(1),
            },
            &[0, 2],
        );
        assert_eq!(out, vec![Some(0), Some(1), Some(2), None, None, None]);
        // Failures across waves count together; with no tolerance, everything runs.
        let (out, _, _) = trace(
            &[0, 1, 1],
            Schedule {
                jobs: 1,
                tolerance: Some(0),
            },
            &[0],
        );
        assert_eq!(out, vec![Some(0), None, None]);
        let (out, _, _) = trace(
            &waves,
            Schedule {
                jobs: 3,
                tolerance: None,
            },
            &[0, 1, 2],
        );
        assert!(out.iter().all(Option::is_some));
    }

    #[test]
    fn a_tail_frees_its_place_at_most_jobs_tails_run_and_all_end_before_the_return() {
        // Each item's own part takes 5 ms, its tail 40 ms: with 2 jobs, a third item starts
        // while the first two tails run, yet never more than 2 items nor 2 tails at once.
        let items = RefCell::new((0usize, 0usize));
        let tails = RefCell::new((0usize, 0usize));
        let enter = |c: &RefCell<(usize, usize)>| {
            let mut n = c.borrow_mut();
            n.0 += 1;
            n.1 = n.1.max(n.0);
        };
        let (items_ref, tails_ref) = (&items, &tails);
        // Whether an item started while a tail ran: the tail did not hold its place.
        let overlapped = RefCell::new(false);
        let overlapped_ref = &overlapped;
        let out = block_on(run_with_tails(
            &[0; 6],
            Schedule {
                jobs: 2,
                tolerance: None,
            },
            |i| async move {
                if tails_ref.borrow().0 > 0 {
                    *overlapped_ref.borrow_mut() = true;
                }
                enter(items_ref);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                items_ref.borrow_mut().0 -= 1;
                if i % 3 == 2 {
                    return Step::Done(i * 10);
                }
                Step::Then(Box::pin(async move {
                    enter(tails_ref);
                    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
                    tails_ref.borrow_mut().0 -= 1;
                    i * 10 + 1
                })
                    as std::pin::Pin<Box<dyn Future<Output = usize>>>)
            },
            |_| false,
        ));
        assert_eq!(
            out,
            vec![Some(1), Some(11), Some(20), Some(31), Some(41), Some(50)]
        );
        assert_eq!(items.borrow().1, 2);
        assert_eq!(tails.borrow().1, 2);
        assert_eq!((items.borrow().0, tails.borrow().0), (0, 0));
        assert!(*overlapped.borrow());
    }
}
