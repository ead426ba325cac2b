/* memtable/skiplist/thread_stripe.h - private: which stripe of a striped statistic the calling thread updates.
 *
 * Statistics that every concurrent add updates (the skiplist's counts, the memtable's deletions and sequence
 * bounds) are split into stripes, one cache line each, so that concurrent writers do not all read-modify-write
 * one shared line; readers sum the stripes. Threads are dealt stripes round-robin on first use, once for the
 * whole process (so every layer's stripes agree); two threads may share one (the updates are atomic).
 */
#ifndef MEMTABLE_SKIPLIST_THREAD_STRIPE_H
#define MEMTABLE_SKIPLIST_THREAD_STRIPE_H

#define MTI_STRIPES 8

/* The calling thread's stripe, 0..MTI_STRIPES-1, the same on every call. Any thread. */
unsigned mti_thread_stripe(void);

#endif
