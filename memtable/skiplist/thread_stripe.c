/* Stripes dealt to threads: see thread_stripe.h. One definition, so a thread has one stripe in every file. */
#include "memtable/skiplist/thread_stripe.h"

#include <stdatomic.h>

static _Thread_local unsigned stripe_plus_one;
static _Atomic unsigned next_stripe;

unsigned mti_thread_stripe(void) {
  if (stripe_plus_one == 0) {
    /* Relaxed: the counter only deals out distinct-ish numbers; it publishes nothing. */
    stripe_plus_one = atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % MTI_STRIPES + 1;
  }
  return stripe_plus_one - 1;
}
