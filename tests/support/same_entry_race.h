/* tests/support/same_entry_race.h - the race of the exact same entry, for the skiplist's and the memtable's
 * concurrent suites: in each round every thread adds that round's entry, all released together by a gate,
 * and each add's status is recorded; afterwards exactly one add per round must have answered MT_OK and every
 * other MT_EXISTS. Header-only; include support/test_util.h first. */
#ifndef MEMTABLE_SUPPORT_SAME_ENTRY_RACE_H
#define MEMTABLE_SUPPORT_SAME_ENTRY_RACE_H

#include <stdlib.h>

#include <memtable/status.h>

#include "support/thread_gate.h"
#include "support/thread_team.h"

/* Thread `thread`'s add of round `round`'s entry. */
typedef mt_status (*same_entry_add_fn)(void *ctx, unsigned thread, unsigned round);

typedef struct same_entry_race same_entry_race;

typedef struct same_entry_adder {
  same_entry_race *race;
  unsigned index;
} same_entry_adder;

struct same_entry_race {
  same_entry_add_fn add;
  void *ctx;
  unsigned threads, rounds;
  thread_gate gate;
  mt_status *statuses; /* rounds rows of threads: written by each thread in its own cells, read after the join */
  same_entry_adder adders[THREAD_TEAM_MAX];
};

static inline void *same_entry_adder_main(void *arg) {
  same_entry_adder *adder = arg;
  same_entry_race *race = adder->race;
  for (unsigned round = 0; round < race->rounds; round++) {
    thread_gate_wait(&race->gate);
    race->statuses[(size_t)round * race->threads + adder->index] = race->add(race->ctx, adder->index, round);
  }
  return NULL;
}

/* Of `threads` statuses `stride` apart, the index of the one MT_OK; fails the test with `what` and `index`
 * unless exactly one is MT_OK and all the others MT_EXISTS. */
static inline unsigned same_entry_winner(const mt_status *statuses, size_t stride, unsigned threads, const char *what,
                                         size_t index) {
  unsigned ok = 0, exists = 0, winner = 0;
  for (unsigned t = 0; t < threads; t++) {
    mt_status status = statuses[t * stride];
    if (status == MT_OK) {
      ok++;
      winner = t;
    } else if (status == MT_EXISTS) {
      exists++;
    }
  }
  if (ok != 1 || exists != threads - 1) fail_msg("%s %zu: %u MT_OK, %u MT_EXISTS of %u adds", what, index, ok, exists, threads);
  return winner;
}

/* Runs `rounds` rounds of `threads` threads calling add; the statuses stay in race until same_entry_race_free. */
static inline void same_entry_race_run(same_entry_race *race, unsigned threads, unsigned rounds, same_entry_add_fn add,
                                       void *ctx) {
  assert_in_range(threads, 2, THREAD_TEAM_MAX);
  race->add = add;
  race->ctx = ctx;
  race->threads = threads;
  race->rounds = rounds;
  race->statuses = calloc((size_t)threads * rounds, sizeof(*race->statuses));
  assert_non_null(race->statuses);
  assert_true(thread_gate_init(&race->gate, threads));
  for (unsigned t = 0; t < threads; t++) race->adders[t] = (same_entry_adder){race, t};
  thread_team_run(same_entry_adder_main, race->adders, sizeof(race->adders[0]), threads);
  thread_gate_destroy(&race->gate);
}

/* The thread whose add of round's entry answered MT_OK (the test fails unless it is exactly one). */
static inline unsigned same_entry_race_winner(const same_entry_race *race, unsigned round) {
  return same_entry_winner(&race->statuses[(size_t)round * race->threads], 1, race->threads, "round", round);
}

static inline void same_entry_race_free(same_entry_race *race) {
  free(race->statuses);
  race->statuses = NULL;
}

#endif
