/* tests/support/thread_team.h - the create/start/join scaffolding of the concurrent suites, once: `count`
 * threads run one function, thread i on element i of a caller-owned array of argument structs, all released
 * together from a thread_gate (so ThreadSanitizer sees the start as a synchronisation) and joined by the
 * caller. A thread that cannot be created fails the cmocka test after the others are let go and joined.
 * Header-only; include support/test_util.h first. */
#ifndef MEMTABLE_SUPPORT_THREAD_TEAM_H
#define MEMTABLE_SUPPORT_THREAD_TEAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "support/thread_gate.h"

enum { THREAD_TEAM_MAX = 8 }; /* the largest team a suite starts */

typedef void *(*thread_team_main)(void *arg);

typedef struct thread_team_member {
  struct thread_team *team;
  void *arg;
  pthread_t thread;
} thread_team_member;

/* Lives where the caller put it from thread_team_start to thread_team_join (the members point into it). */
typedef struct thread_team {
  thread_gate start; /* the members and the starter */
  thread_team_main main;
  bool cancelled; /* written by the starter before it arrives at start, read by members after it */
  unsigned count;
  thread_team_member members[THREAD_TEAM_MAX];
} thread_team;

static inline void *thread_team_member_main(void *arg) {
  thread_team_member *member = arg;
  thread_gate_wait(&member->team->start);
  if (member->team->cancelled) return NULL;
  return member->team->main(member->arg);
}

/* Starts `count` threads running main: thread i gets (char *)args + i * arg_size (arg_size 0: every thread
 * gets args). Returns once all of them have been released; thread_team_join waits for them. */
static inline void thread_team_start(thread_team *team, thread_team_main main, void *args, size_t arg_size,
                                     unsigned count) {
  assert_in_range(count, 1, THREAD_TEAM_MAX);
  team->main = main;
  team->cancelled = false;
  team->count = count;
  assert_true(thread_gate_init(&team->start, count + 1));
  for (unsigned i = 0; i < count; i++) {
    thread_team_member *member = &team->members[i];
    member->team = team;
    member->arg = (char *)args + i * arg_size;
    int error = pthread_create(&member->thread, NULL, thread_team_member_main, member);
    if (error != 0) {
      /* Let the ones already created go without running main (it may wait for the missing ones), join them. */
      team->cancelled = true;
      for (unsigned missing = i; missing < count; missing++) thread_gate_leave(&team->start);
      thread_gate_wait(&team->start);
      for (unsigned created = 0; created < i; created++) pthread_join(team->members[created].thread, NULL);
      thread_gate_destroy(&team->start);
      fail_msg("pthread_create of thread %u of %u: %s", i + 1, count, strerror(error));
    }
  }
  thread_gate_wait(&team->start);
}

/* Waits for every thread of the team to return. */
static inline void thread_team_join(thread_team *team) {
  for (unsigned i = 0; i < team->count; i++) assert_int_equal(pthread_join(team->members[i].thread, NULL), 0);
  thread_gate_destroy(&team->start);
}

/* thread_team_start, then thread_team_join. */
static inline void thread_team_run(thread_team_main main, void *args, size_t arg_size, unsigned count) {
  thread_team team;
  thread_team_start(&team, main, args, arg_size, count);
  thread_team_join(&team);
}

#endif
