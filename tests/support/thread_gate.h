/* tests/support/thread_gate.h - a reusable barrier for the concurrent suites and fuzz targets: `parties`
 * threads call thread_gate_wait and all leave together, as often as they like (a generation counter tells
 * one crossing from the next). Built on a mutex and a condition variable, so ThreadSanitizer sees every
 * crossing as a synchronisation (pthread_barrier_t is optional in POSIX). Header-only. */
#ifndef MEMTABLE_SUPPORT_THREAD_GATE_H
#define MEMTABLE_SUPPORT_THREAD_GATE_H

#include <pthread.h>
#include <stdbool.h>

typedef struct thread_gate {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  unsigned parties;
  unsigned waiting;    /* threads at the gate in this generation */
  unsigned long generation;
} thread_gate;

static inline bool thread_gate_init(thread_gate *gate, unsigned parties) {
  gate->parties = parties;
  gate->waiting = 0;
  gate->generation = 0;
  if (pthread_mutex_init(&gate->mutex, NULL) != 0) return false;
  if (pthread_cond_init(&gate->changed, NULL) != 0) {
    pthread_mutex_destroy(&gate->mutex);
    return false;
  }
  return true;
}

static inline void thread_gate_destroy(thread_gate *gate) {
  pthread_cond_destroy(&gate->changed);
  pthread_mutex_destroy(&gate->mutex);
}

/* Blocks until all parties have arrived. Everything a thread wrote before arriving is visible to every
 * thread after it leaves. */
static inline void thread_gate_wait(thread_gate *gate) {
  pthread_mutex_lock(&gate->mutex);
  unsigned long generation = gate->generation;
  if (++gate->waiting == gate->parties) {
    gate->waiting = 0;
    gate->generation++;
    pthread_cond_broadcast(&gate->changed);
  } else {
    while (generation == gate->generation) pthread_cond_wait(&gate->changed, &gate->mutex);
  }
  pthread_mutex_unlock(&gate->mutex);
}

/* For a party that will never arrive (a thread that could not be created): the gate waits for one fewer from
 * now on, and lets the ones already waiting go if they were all it still waited for. */
static inline void thread_gate_leave(thread_gate *gate) {
  pthread_mutex_lock(&gate->mutex);
  gate->parties--;
  if (gate->waiting > 0 && gate->waiting == gate->parties) {
    gate->waiting = 0;
    gate->generation++;
    pthread_cond_broadcast(&gate->changed);
  }
  pthread_mutex_unlock(&gate->mutex);
}

#endif
