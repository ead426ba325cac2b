/* bench/slices.c - the interleaved, timed turns of a benchmark (slices.h). */
#define _POSIX_C_SOURCE 200809L

#include "slices.h"

#include "clock.h"

void for_each_slice(unsigned slices, uint64_t total, size_t participants, const slice_steps *steps, void *context) {
  uint64_t completed = 0;
  for (unsigned slice = 0; slice < slices; slice++) {
    const uint64_t begin = total * slice / slices;
    const uint64_t end = total * (slice + 1) / slices;
    for (size_t p = 0; p < participants; p++) {
      if (steps->takes_part != NULL && !steps->takes_part(context, p)) continue;
      const slice_turn turn = {slice, p, begin, end, completed};
      if (steps->before != NULL) steps->before(context, &turn);
      uint64_t start = now_ns();
      steps->timed(context, &turn);
      steps->after(context, &turn, now_ns() - start);
      completed += end - begin;
    }
  }
}

/* A group's run takes part while it is active, and when the benchmark chose it. */
static bool group_run_takes_part(void *context, size_t r) {
  const group_turns *turns = context;
  return turns->group->runs[r].active && (turns->taking_part == NULL || turns->taking_part[r]);
}

void for_each_group_slice(group_turns *turns, uint64_t total, const slice_steps *steps) {
  slice_steps group_steps = *steps;
  if (group_steps.takes_part == NULL) group_steps.takes_part = group_run_takes_part;
  for_each_slice(INTERLEAVE_SLICES, total, turns->group->count, &group_steps, turns);
}

impl_run *group_turn_run(void *context, const slice_turn *turn) {
  group_turns *turns = context;
  return &turns->group->runs[turn->participant];
}

void group_turn_record(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  group_turns *turns = context;
  impl_run *run = group_turn_run(context, turn);
  run->elapsed_ns += elapsed_ns;
  run->found += turns->found;
  run->value_bytes += turns->value_bytes;
  turns->found = 0;
  turns->value_bytes = 0;
}
