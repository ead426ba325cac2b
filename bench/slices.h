/* bench/slices.h - the interleaving every timed benchmark shares: its operations cut into slices that the
 * participants (the implementations of a group, or one implementation's tables) take in turn, each turn timed
 * on its own, so that load from other processes falls on every participant alike.
 *
 * Main thread only; a benchmark's own threads are started and joined inside its steps.
 */
#ifndef MEMTABLE_BENCH_SLICES_H
#define MEMTABLE_BENCH_SLICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "group.h"

/* One participant's turn at one slice. */
typedef struct slice_turn {
  unsigned slice;
  size_t participant; /* 0 .. participants - 1; for a group, the index into group->runs */
  uint64_t begin;     /* the slice's operations: [begin, end) of [0, total) */
  uint64_t end;
  uint64_t completed; /* end - begin summed over the turns before this one: the progress display's base */
} slice_turn;

/* What a benchmark does at each turn; context is the benchmark's own. */
typedef struct slice_steps {
  /* Whether the participant takes this turn, or NULL for every one; asked at every turn, so a participant that
   * fails drops out of the later slices. */
  bool (*takes_part)(void *context, size_t participant);
  /* Untimed set-up before the first clock read (threads started and waiting, say), or NULL. */
  void (*before)(void *context, const slice_turn *turn);
  /* The measured work, between the two clock reads. A timed loop copies what it reads from turn and context into
   * locals first: a field read through a pointer is read again after every call the compiler cannot see into. */
  void (*timed)(void *context, const slice_turn *turn);
  /* Untimed, after the second clock read, with the turn's elapsed nanoseconds: adds them up, checks results. */
  void (*after)(void *context, const slice_turn *turn, uint64_t elapsed_ns);
} slice_steps;

/* For each slice s < slices, the operations [total * s / slices, total * (s + 1) / slices); within a slice each
 * participant in index order that takes part: before, clock, timed, clock, after. */
void for_each_slice(unsigned slices, uint64_t total, size_t participants, const slice_steps *steps, void *context);

/* The first member of a group benchmark's context: the group, which of its runs take part, and what the current
 * turn found (a read's timed step sets them; group_turn_record adds them to the run). */
typedef struct group_turns {
  run_group *group;
  const bool *taking_part; /* per run, or NULL for every run still active */
  uint64_t found;
  uint64_t value_bytes;
} group_turns;

/* The group's INTERLEAVE_SLICES slices of [0, total), the runs as participants; the steps' context is turns (the
 * first member of the benchmark's own context). steps->takes_part is group_run_takes_part when NULL. */
void for_each_group_slice(group_turns *turns, uint64_t total, const slice_steps *steps);

/* The run whose turn it is; context is a group benchmark's context (group_turns first). */
impl_run *group_turn_run(void *context, const slice_turn *turn);

/* An after step: adds the turn's time, and the found and value bytes its timed step left in the group_turns, to
 * the run. */
void group_turn_record(void *context, const slice_turn *turn, uint64_t elapsed_ns);

#endif
