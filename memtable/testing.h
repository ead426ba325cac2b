/* memtable/testing.h - private test seams of the memtable layer, for the suites that need a race to happen in a
 * chosen order. Nothing in the library sets them; a NULL seam is never called. */
#ifndef MEMTABLE_TESTING_H
#define MEMTABLE_TESTING_H

#include <stdint.h>

/* Called by a writer of a table with concurrent_writes and a point index after the skiplist linked its entry
 * (seq) and before the index publishes it: the window in which another writer of the same (key, seq) gets
 * MT_EXISTS and must still leave the entry visible to gets. Process-wide; set it before the writers start
 * and back to NULL after they finish. */
typedef void (*mti_linked_seam_fn)(void *ctx, uint64_t seq);
void mti_memtable_set_linked_seam_for_testing(mti_linked_seam_fn seam, void *ctx);

#endif
