// A hierarchical timer wheel behind the timer_queue interface: 1 ms resolution, any int64 due
// time, O(1) schedule / cancel / reschedule, recurring timers re-armed in place, no
// allocation per firing, bounded work per tick.
//
// Layout (the time line is cut into blocks of 2^16 ms, about 65.5 s; B is the block of the
// next tick to process):
//   - level 0: 2^17 one-millisecond slots covering blocks B and B+1 (131 s), so the recurring
//     checks of a monitor (seconds to a minute) go straight into their final slot and never
//     move again. A slot is an array of ids in arming order, in 64-byte chunks of 15 from a
//     shared pool; cancel leaves a tombstone. Expiring a slot reads ids sequentially.
//   - level 1: 2^16 one-block slots covering blocks B+2 .. B+2^16-1 (49.7 days), as intrusive
//     doubly-linked lists;
//   - beyond that, and for timers armed in the past (due before the next tick), two small
//     ordered sets; both are off the hot path (far future, or re-armed from inside expire()).
// A timer is a 16-byte node indexed by id, holding all an expiry touches (due, position,
// level, and a recurring timer's interval: re-arming an expired check reads nothing outside
// the wheel), plus a 4-byte back link used only in level 1; with the chunks, the slot arrays
// and a 1e6-timer load that is about 31 bytes per timer. Ties expire in arming order: a timer
// armed directly for block B+1 waits in level 1 behind those still moving down from it.
// Occupancy bitmaps with a summary word per 4096 slots make empty ticks,
// long idle periods and catch-up after a stall cost a few word scans. No allocation per
// firing: the chunk pool grows (256 KB at a time) only to the most ids held at once (armed,
// or cancelled and not yet swept by their slot's expiry, at most 131 s later).
//
// No cascade stall: while the wheel is in block B, the level-1 slot of block B+1 is moved
// into level 0 a little at every tick, in proportion to the progress through B, so a tick
// moves at most about n / 65536 + 1 timers of a slot holding n. Far-future timers of block
// B + 2^16 enter level 1 the same way during B (into the level-1 slot B left empty), so a
// crowd of timers armed for the same block months ahead does not arrive in one tick either.
// Only a jump of the clock over whole blocks (catch-up after the process stood still) moves
// what it passes in the one expire() call that makes the jump.
//
// Recurring timers: expire() re-arms one at the next grid point after now before calling
// back (see timer_queue::schedule_recurring), from its own node. While expiring a slot, the
// wheel prefetches the nodes of the ids a few entries ahead, then the headers and last chunks
// of the slots they will be re-armed into, so the cache misses of several expiries overlap
// (running on into the next tick's slot), and moves an on-time recurring timer whose next run
// lands in level 0 straight into that slot.
//
// Threads: not thread-safe, like every timer_queue. The scheduler thread owns it: it alone
// calls schedule/cancel/reschedule/expire/next_due (the agent's loop calls
// scheduler::run_due(now), which calls expire(now)). Plugin threads never touch the wheel:
// their completions go through scheduler::finished(), which only clears an atomic flag; the
// check was already re-armed by expire() when it fired (from its scheduled time, so no
// drift), and a run still in flight at its next period is skipped and counted by run_due().
#pragma once

#include <cstdint>
#include <memory>

#include <isitup/core/timer_queue.hpp>

namespace isitup {

// Times (start_ms, due times, expire()'s now) may be any epoch or relative milliseconds within
// +-2^62 (146 million years), negative included; intervals any int64 that keeps the grid in
// that range (up to 6.2 days inline in the node, longer ones in a side table).
//
// A timer wheel whose clock starts at start_ms (the first tick it will process): pass the
// current time so timers armed before the first expire() land directly in their slots.
// Any start works (timers due before it simply expire on the first expire() call).
std::unique_ptr<timer_queue> make_timer_wheel(int64_t start_ms);

// The most timers one expire() call of `wheel` moved between the wheel's levels (work other
// than expiring; bounded by design, see above). For tests and diagnostics. Throws
// std::bad_cast if `wheel` was not made by make_timer_wheel.
uint64_t timer_wheel_most_moved(const timer_queue& wheel);

}  // namespace isitup
