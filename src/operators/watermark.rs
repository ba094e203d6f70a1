//! Event-time watermarks over epochs: what closes a window and what makes a record late.
//!
//! Every worker sends each batch's newest event time to every worker
//! ([`EventTimes::newest_event_times`]); each folds them in epoch order into the same
//! watermark, the newest event time read so far less the declared delay. Epochs only pace
//! the folding; the watermark's value comes from the data, never from a clock.
//!
//! Semantics and limits:
//! - A record of epoch `e` is judged against the watermark of the epochs before `e`
//!   ([`JudgeLate::judge_late`]); records of one epoch do not judge each other, whatever
//!   their order in it.
//! - A window is closed at epoch `e` when the watermark through `e` has passed its end
//!   ([`HoldOpenWindows::hold_open_windows`]); its updates are released then, and later ones
//!   pass straight through.
//! - Which epoch a record lands in depends on when it was read, so whether a record near the
//!   boundary is late does too, as in every engine with watermarks. A record far behind (more
//!   than the delay, plus a view's allowed lateness, behind the newest) is always late.

use std::collections::BTreeMap;

use differential_dataflow::consolidation::consolidate;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Capability, Operator};

/// Updates of an epoch (or a window) waiting, with their differences.
type Pending<D> = Vec<(D, isize)>;

/// A stream of records kept (`Ok`) or rejected (`Err`), each with its epoch and difference.
type Judged<'scope, D, R> = Stream<'scope, u64, Vec<Result<(D, u64, isize), (R, u64, isize)>>>;

/// The watermark as the epochs' newest event times arrive.
#[derive(Debug, Clone)]
pub struct EventClock {
    /// Newest event time per epoch, not yet folded in.
    pending: BTreeMap<u64, i64>,
    newest: Option<i64>,
    delay_ms: i64,
}

impl EventClock {
    pub fn new(delay_ms: i64) -> EventClock {
        EventClock { pending: BTreeMap::new(), newest: None, delay_ms }
    }

    /// Epoch `epoch` read an event at `time`.
    pub fn saw(&mut self, epoch: u64, time: i64) {
        let newest = self.pending.entry(epoch).or_insert(time);
        *newest = (*newest).max(time);
    }

    /// Folds in every epoch before `epoch` (whose times must all have arrived).
    pub fn fold_before(&mut self, epoch: u64) {
        let later = self.pending.split_off(&epoch);
        let folded = std::mem::replace(&mut self.pending, later);
        if let Some(time) = folded.into_values().max() {
            self.newest = Some(self.newest.map_or(time, |n| n.max(time)));
        }
    }

    /// The watermark: the newest event time folded in, less the delay (none before any).
    pub fn watermark(&self) -> Option<i64> {
        self.newest.map(|n| n.saturating_sub(self.delay_ms))
    }
}

/// Each batch's newest event time, to every worker.
pub trait EventTimes<'scope, D> {
    /// `(newest event time, epoch)` of each batch with one, broadcast to every worker.
    fn newest_event_times(self, time: impl Fn(&D) -> Option<i64> + 'static) -> Stream<'scope, u64, Vec<(i64, u64)>>;
}

impl<'scope, D: Clone + 'static> EventTimes<'scope, D> for Stream<'scope, u64, Vec<(D, u64, isize)>> {
    fn newest_event_times(self, time: impl Fn(&D) -> Option<i64> + 'static) -> Stream<'scope, u64, Vec<(i64, u64)>> {
        self.unary::<CapacityContainerBuilder<Vec<(i64, u64)>>, _, _, _>(Pipeline, "NewestEventTimes", |_capability, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut newest: BTreeMap<u64, i64> = BTreeMap::new();
                    for (datum, epoch, _) in data.iter() {
                        if let Some(t) = time(datum) {
                            let n = newest.entry(*epoch).or_insert(t);
                            *n = (*n).max(t);
                        }
                    }
                    for (epoch, t) in newest {
                        output.session(&cap.delayed(&epoch, 0)).give((t, epoch));
                    }
                });
            }
        })
        .broadcast()
    }
}

/// Splits records into those on time and those late.
pub trait JudgeLate<'scope, D> {
    /// Judges each record of epoch `e` once every worker's event times of the epochs before
    /// `e` are in: `judge(record, watermark)` keeps it (`Ok`) or rejects it (`Err`).
    fn judge_late<R: Clone + 'static>(
        self,
        times: Stream<'scope, u64, Vec<(i64, u64)>>,
        delay_ms: i64,
        judge: impl FnMut(D, Option<i64>) -> Result<D, R> + 'static,
    ) -> Judged<'scope, D, R>;
}

impl<'scope, D: Clone + 'static> JudgeLate<'scope, D> for Stream<'scope, u64, Vec<(D, u64, isize)>> {
    fn judge_late<R: Clone + 'static>(
        self,
        times: Stream<'scope, u64, Vec<(i64, u64)>>,
        delay_ms: i64,
        mut judge: impl FnMut(D, Option<i64>) -> Result<D, R> + 'static,
    ) -> Judged<'scope, D, R> {
        type Out<D, R> = Vec<Result<(D, u64, isize), (R, u64, isize)>>;
        self.binary_frontier::<_, CapacityContainerBuilder<Out<D, R>>, _, _, _, _>(times, Pipeline, Pipeline, "JudgeLate", move |_capability, _info| {
            let mut clock = EventClock::new(delay_ms);
            let mut stash: BTreeMap<u64, (Capability<u64>, Pending<D>)> = BTreeMap::new();
            move |(records, records_frontier), (times, times_frontier), output| {
                records.for_each(|cap, data| {
                    for (datum, epoch, diff) in data.drain(..) {
                        stash.entry(epoch).or_insert_with(|| (cap.delayed(&epoch, 0), Vec::new())).1.push((datum, diff));
                    }
                });
                times.for_each(|_cap, data| {
                    for (time, epoch) in data.drain(..) {
                        clock.saw(epoch, time);
                    }
                });
                // An epoch is judged once no event time of an earlier epoch can still come.
                while let Some(entry) = stash.first_entry() {
                    let epoch = *entry.key();
                    if times_frontier.less_than(&epoch) || records_frontier.less_than(&epoch) {
                        break;
                    }
                    clock.fold_before(epoch);
                    let watermark = clock.watermark();
                    let (cap, batch) = entry.remove();
                    let mut session = output.session(&cap);
                    for (datum, diff) in batch {
                        session.give(match judge(datum, watermark) {
                            Ok(kept) => Ok((kept, epoch, diff)),
                            Err(late) => Err((late, epoch, diff)),
                        });
                    }
                }
            }
        })
    }
}

/// Holds a window's updates until it closes.
pub trait HoldOpenWindows<'scope, D> {
    /// Passes on each update once the watermark through its epoch has passed `end(update)`,
    /// its window's end (updates with none pass at once); held ones go at the epoch that
    /// closes their window. When the input ends, everything held goes (a finished input
    /// closes every window).
    fn hold_open_windows(self, times: Stream<'scope, u64, Vec<(i64, u64)>>, delay_ms: i64, end: impl Fn(&D) -> Option<i64> + 'static) -> Stream<'scope, u64, Vec<(D, u64, isize)>>;
}

impl<'scope, D: Clone + Ord + 'static> HoldOpenWindows<'scope, D> for Stream<'scope, u64, Vec<(D, u64, isize)>> {
    fn hold_open_windows(self, times: Stream<'scope, u64, Vec<(i64, u64)>>, delay_ms: i64, end: impl Fn(&D) -> Option<i64> + 'static) -> Stream<'scope, u64, Vec<(D, u64, isize)>> {
        self.binary_frontier::<_, CapacityContainerBuilder<Vec<(D, u64, isize)>>, _, _, _, _>(times, Pipeline, Pipeline, "HoldOpenWindows", move |capability, _info| {
            let mut clock = EventClock::new(delay_ms);
            // Whatever may still be released goes at or after this time.
            let mut retained = Some(capability);
            let mut stash: BTreeMap<u64, Pending<D>> = BTreeMap::new();
            // Open windows' updates, by window end; consolidated as they grow.
            let mut held: BTreeMap<i64, (usize, Pending<D>)> = BTreeMap::new();
            move |(updates, updates_frontier), (times, times_frontier), output| {
                updates.for_each(|_cap, data| {
                    for (datum, epoch, diff) in data.drain(..) {
                        stash.entry(epoch).or_default().push((datum, diff));
                    }
                });
                times.for_each(|_cap, data| {
                    for (time, epoch) in data.drain(..) {
                        clock.saw(epoch, time);
                    }
                });
                let Some(cap) = retained.as_mut() else { return };
                // The first epoch not complete on both inputs (none once both ended).
                let next = times_frontier.frontier().iter().chain(updates_frontier.frontier().iter()).min().copied();
                let complete = |epoch: u64| next.is_none_or(|n| epoch < n);
                let release = |clock: &EventClock, held: &mut BTreeMap<i64, (usize, Pending<D>)>, session: &mut Vec<(D, u64, isize)>, epoch: u64| {
                    let Some(watermark) = clock.watermark() else { return };
                    while let Some(entry) = held.first_entry().filter(|e| *e.key() <= watermark) {
                        let (_, mut window) = entry.remove();
                        consolidate(&mut window);
                        session.extend(window.into_iter().map(|(datum, diff)| (datum, epoch, diff)));
                    }
                };
                // Complete epochs in order: their updates, then the windows the watermark
                // through them closes.
                while let Some(entry) = stash.first_entry().filter(|e| complete(*e.key())) {
                    let (epoch, batch) = entry.remove_entry();
                    clock.fold_before(epoch + 1);
                    let closed = |end: i64| clock.watermark().is_some_and(|w| end <= w);
                    let mut out = Vec::new();
                    for (datum, diff) in batch {
                        match end(&datum) {
                            Some(e) if !closed(e) => {
                                let (consolidated, window) = held.entry(e).or_default();
                                window.push((datum, diff));
                                if window.len() > 2 * (*consolidated).max(64) {
                                    consolidate(window);
                                    *consolidated = window.len();
                                }
                            }
                            _ => out.push((datum, epoch, diff)),
                        }
                    }
                    release(&clock, &mut held, &mut out, epoch);
                    output.session(&cap.delayed(&epoch)).give_iterator(out.into_iter());
                }
                match next {
                    Some(next) => {
                        // Epochs that brought no update still move the watermark.
                        clock.fold_before(next);
                        let mut out = Vec::new();
                        release(&clock, &mut held, &mut out, next);
                        if !out.is_empty() {
                            output.session(&cap.delayed(&next)).give_iterator(out.into_iter());
                        }
                        cap.downgrade(&next);
                    }
                    None => {
                        // The input ended: every window closes.
                        let epoch = *cap.time();
                        let mut out = Vec::new();
                        for (_, (_, mut window)) in std::mem::take(&mut held) {
                            consolidate(&mut window);
                            out.extend(window.into_iter().map(|(datum, diff)| (datum, epoch, diff)));
                        }
                        output.session(&*cap).give_iterator(out.into_iter());
                        retained = None;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::InputHandle;
    use timely::dataflow::operators::probe::Handle as ProbeHandle;
    use timely::dataflow::operators::vec::Map;
    use timely::dataflow::operators::{Inspect, OkErr, Probe};

    use super::{EventClock, EventTimes, HoldOpenWindows, JudgeLate};

    type Seen = Arc<Mutex<Vec<(i64, u64)>>>;

    /// Windows of 10 with no delay: event times through epochs, what is judged late, and at
    /// which epoch each window's updates are released.
    #[test]
    fn late_records_are_judged_by_earlier_epochs_and_windows_wait_for_the_watermark() {
        let end = |t: i64| t - t.rem_euclid(10) + 10;
        let (late, released): (Seen, Seen) = Default::default();
        let (late_out, released_out) = (late.clone(), released.clone());
        timely::execute_directly(move |worker| {
            let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<(i64, u64, isize)>>>::new();
            let probe = ProbeHandle::new();
            worker.dataflow::<u64, _, _>(|scope| {
                let records = input.to_stream(scope);
                let times = records.clone().newest_event_times(|t: &i64| Some(*t));
                let (on_time, too_late) = records
                    .judge_late(times.clone(), 0, move |t, watermark| if watermark.is_some_and(|w| end(t) <= w) { Err(t) } else { Ok(t) })
                    .ok_err::<Vec<_>, _, Vec<_>, _, _>(|r| r);
                let late = late_out.clone();
                too_late.inspect(move |(t, epoch, _)| late.lock().unwrap().push((*t, *epoch)));
                let released = released_out.clone();
                on_time
                    .map(move |(t, epoch, diff)| ((end(t), t), epoch, diff))
                    .hold_open_windows(times, 0, |(window_end, _): &(i64, i64)| Some(*window_end))
                    .inspect(move |((_, t), epoch, _)| released.lock().unwrap().push((*t, *epoch)))
                    .probe_with(&probe);
            });
            type Input = InputHandle<u64, CapacityContainerBuilder<Vec<(i64, u64, isize)>>>;
            let epoch = |input: &mut Input, records: &[i64], next: u64, worker: &mut timely::worker::Worker| {
                for t in records {
                    input.send((*t, next - 1, 1));
                }
                input.advance_to(next);
                while probe.less_than(input.time()) {
                    worker.step();
                }
            };
            input.advance_to(1);
            epoch(&mut input, &[5, 12], 2, worker);
            assert_eq!(late_out.lock().unwrap().len(), 0, "nothing is late before any watermark");
            assert_eq!(*released_out.lock().unwrap(), [(5, 1)], "the watermark through epoch 1 (12) closes [0, 10) only");
            epoch(&mut input, &[3, 15, 19], 3, worker);
            assert_eq!(*late_out.lock().unwrap(), [(3, 2)], "3's window closed at epoch 1");
            assert_eq!(released_out.lock().unwrap().len(), 1, "[10, 20) waits: the watermark is 19");
            epoch(&mut input, &[], 4, worker);
            assert_eq!(released_out.lock().unwrap().len(), 1, "an epoch without events moves nothing");
            epoch(&mut input, &[25], 5, worker);
            let mut released = released_out.lock().unwrap().clone();
            released.sort();
            assert_eq!(released, [(5, 1), (12, 4), (15, 4), (19, 4)], "[10, 20) goes when 25 passes its end");
            input.close();
            while worker.step() {}
            assert!(released_out.lock().unwrap().contains(&(25, 5)), "an ended input closes every window");
        });
        assert_eq!(late.lock().unwrap().len(), 1);
        assert_eq!(released.lock().unwrap().len(), 5);
    }

    #[test]
    fn the_watermark_folds_only_earlier_epochs_and_never_goes_back() {
        let mut clock = EventClock::new(5);
        assert_eq!(clock.watermark(), None, "no watermark before any event time");
        clock.saw(1, 100);
        clock.saw(2, 200);
        clock.saw(1, 90);
        clock.fold_before(2);
        assert_eq!(clock.watermark(), Some(95), "epoch 1's newest time less the delay; epoch 2 not yet");
        clock.saw(3, 50);
        clock.fold_before(4);
        assert_eq!(clock.watermark(), Some(195), "an older time does not move the watermark back");
    }
}
