/* memtable/thread_stripe.h - private: which stripe of a striped statistic the calling thread updates.
 *
 * Statistics that every add updates (entry counts, sequence bounds) are split into stripes, one cache line
 * each, so that concurrent writers do not all read-modify-write one shared line; readers sum the stripes.
 * Threads are dealt stripes round-robin on first use; two threads may share one (the updates are atomic).
 */
#ifndef MEMTABLE_THREAD_STRIPE_H
#define MEMTABLE_THREAD_STRIPE_H

#include <stdatomic.h>

#define MT_STRIPES 8

static inline unsigned thread_stripe(void) {
  static _Thread_local unsigned stripe_plus_one;
  static _Atomic unsigned next_stripe;
  if (stripe_plus_one == 0) {
    /* Relaxed: the counter only deals out distinct-ish numbers; it publishes nothing. */
    stripe_plus_one = atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % MT_STRIPES + 1;
  }
  return stripe_plus_one - 1;
}

#endif
