/* skiplist_group_test: group links (mt_skiplist_options.same_group, mt_skiplist_iter_group_last). Keys are 16
 * bytes, a big-endian group then a big-endian member, so a group is a run of the order. Each case checks the
 * header's contract against a sorted model: a jump lands on a node of the same group at or after its start,
 * passing only nodes of that group; a group scan (jump, next, repeat while in the group) meets each group
 * once, in order; validate accepts sound links and finds a broken one. With one writer, with four racing
 * writers and readers, with equal keys raced, and with an arena that fails mid-insert. */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/allocator.h"
#include "support/group_link.h"
#include "support/group_list.h"
#include "support/rng.h"
#include "support/thread_gate.h"
#include "support/thread_team.h"
#include "support/tsan.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Random groups of 1..50 distinct members, inserted in random order across groups. */
static void skiplist_group_test_random_inserts_match_model(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    uint64_t rng = seed;
    key_model inserts = {0};
    size_t groups = 20 + mt_rng_below(&rng, 100);
    for (size_t g = 0; g < groups; g++) {
      size_t members = 1 + mt_rng_below(&rng, 50);
      uint64_t member = mt_rng_below(&rng, 1000);
      for (size_t m = 0; m < members; m++) {
        member += 1 + mt_rng_below(&rng, 3);
        key_model_add(&inserts, (group_key){g * 7 + 3, member});
      }
    }
    shuffle(inserts.keys, inserts.count, &rng);
    mt_arena *arena = mt_arena_create(NULL);
    mt_skiplist *list = create_group_list(arena, false);
    assert_non_null(list);
    for (size_t i = 0; i < inserts.count; i++) assert_int_equal(insert_key(list, inserts.keys[i]), MT_OK);
    group_shape shape = check_groups(list, &inserts, seed);
    assert_int_equal(shape.groups, groups);
    mt_arena_destroy(arena);
    free(inserts.keys);
  }
}

/* As the memtable adds versions: each member sorts before the group's existing ones (descending members), so
 * each new node links to the group's last node and every group is passed in one jump and one step. */
static void skiplist_group_test_prepended_members_jump_to_group_end(void **state) {
  (void)state;
  uint64_t rng = 42;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_group_list(arena, false);
  assert_non_null(list);
  key_model model = {0};
  enum { GROUPS = 60, MEMBERS = 50 };
  size_t inserted[GROUPS] = {0};
  size_t total = 0;
  /* Groups interleaved at random; within a group, members 50, 49, ... 1. */
  while (total < (size_t)GROUPS * MEMBERS) {
    size_t g = mt_rng_below(&rng, GROUPS);
    if (inserted[g] == MEMBERS) continue;
    group_key key = {g, MEMBERS - inserted[g]++};
    assert_int_equal(insert_key(list, key), MT_OK);
    key_model_add(&model, key);
    total++;
  }
  group_shape shape = check_groups(list, &model, 42);
  assert_int_equal(shape.groups, GROUPS);
  assert_int_equal(shape.first_jumps_to_end, GROUPS);
  assert_int_equal(shape.scan_steps, GROUPS);
  /* Every node (not only the first) jumps straight to member MEMBERS, the group's last. */
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  for (mt_skiplist_iter_seek_to_first(&iter); mt_skiplist_iter_valid(&iter); mt_skiplist_iter_next(&iter)) {
    mt_skiplist_iter jump = iter;
    group_key from = decode_key(mt_skiplist_iter_key(&iter));
    mt_skiplist_iter_group_last(&jump);
    group_key to = decode_key(mt_skiplist_iter_key(&jump));
    assert_int_equal(to.group, from.group);
    assert_int_equal(to.member, MEMBERS);
  }
  mt_arena_destroy(arena);
  free(model.keys);
}

/* Members added after the group's last node link to nothing past themselves: a jump from the group's first
 * node lands on the last member known then, and the scan steps on (jumping again where it can) to the end. */
static void skiplist_group_test_appended_members_scan_exactly(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_group_list(arena, false);
  assert_non_null(list);
  key_model model = {0};
  enum { GROUPS = 40, HALF = 25 };
  for (uint64_t g = 0; g < GROUPS; g++) {
    for (uint64_t member = HALF; member >= 1; member--) {
      assert_int_equal(insert_key(list, (group_key){g, member}), MT_OK);
      key_model_add(&model, (group_key){g, member});
    }
  }
  for (uint64_t member = HALF + 1; member <= 2 * HALF; member++) {
    for (uint64_t g = 0; g < GROUPS; g++) {
      assert_int_equal(insert_key(list, (group_key){g, member}), MT_OK);
      key_model_add(&model, (group_key){g, member});
    }
  }
  group_shape shape = check_groups(list, &model, 0);
  assert_int_equal(shape.groups, GROUPS);
  assert_int_equal(shape.first_jumps_to_end, 0);
  /* From each first node: one jump to member HALF, then a step onto each appended member (none links on). */
  assert_int_equal(shape.scan_steps, (size_t)GROUPS * (HALF + 1));
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  for (uint64_t g = 0; g < GROUPS; g++) {
    char bytes[KEY_SIZE];
    encode_key(bytes, (group_key){g, 1});
    mt_skiplist_iter_seek(&iter, bytes);
    mt_skiplist_iter_group_last(&iter);
    group_key landing = decode_key(mt_skiplist_iter_key(&iter));
    assert_int_equal(landing.group, g);
    assert_int_equal(landing.member, HALF);
    /* An appended member has no link: the jump stays put. */
    mt_skiplist_iter_next(&iter);
    const char *before = mt_skiplist_iter_key(&iter);
    mt_skiplist_iter_group_last(&iter);
    assert_ptr_equal(mt_skiplist_iter_key(&iter), before);
  }
  mt_arena_destroy(arena);
  free(model.keys);
}

/* Without same_group there are no links: the jump never moves. On an iterator that is not valid (or NULL) it
 * does nothing. */
static void skiplist_group_test_without_links_or_position_nothing_moves(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_keys;
  mt_skiplist *list = mt_skiplist_create(arena, &options);
  assert_non_null(list);
  for (uint64_t member = 20; member >= 1; member--) assert_int_equal(insert_key(list, (group_key){1, member}), MT_OK);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_group_last(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  size_t seen = 0;
  for (mt_skiplist_iter_seek_to_first(&iter); mt_skiplist_iter_valid(&iter); mt_skiplist_iter_next(&iter)) {
    const char *before = mt_skiplist_iter_key(&iter);
    mt_skiplist_iter_group_last(&iter);
    assert_ptr_equal(mt_skiplist_iter_key(&iter), before);
    seen++;
  }
  assert_int_equal(seen, 20);
  mt_skiplist_iter_group_last(&iter); /* stepped past the end */
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_group_last(NULL);
  mt_arena_destroy(arena);

  /* With links, but the iterator not positioned. */
  arena = mt_arena_create(NULL);
  list = create_group_list(arena, false);
  assert_non_null(list);
  assert_int_equal(insert_key(list, (group_key){1, 2}), MT_OK);
  assert_int_equal(insert_key(list, (group_key){1, 1}), MT_OK);
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_group_last(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_to_first(&iter);
  mt_skiplist_iter_group_last(&iter);
  assert_int_equal(decode_key(mt_skiplist_iter_key(&iter)).member, 2);
  mt_skiplist_iter_next(&iter);
  mt_skiplist_iter_group_last(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_arena_destroy(arena);
}

/* The group link's slot, by the documented node layout (skiplist_inline.h): without record_key_size it is the
 * pointer-sized word just below the key, holding the linked node's key pointer (NULL: none) as 48 address bits
 * under their 16-bit fold. */
static char *group_slot(const char *key) { return (char *)(uintptr_t)key - sizeof(void *); }

static uint64_t read_slot_word(const char *key) { return group_link_load(group_slot(key)); }

static const char *read_slot(const char *key) {
  const char *target;
  assert_true(group_link_target(read_slot_word(key), &target));
  return target;
}

static void write_slot_word(const char *key, uint64_t word) { group_link_store(group_slot(key), word); }

static void write_slot(const char *key, const char *link) { write_slot_word(key, group_link_word(link)); }

static const char *key_pointer(const mt_skiplist *list, group_key key) {
  char bytes[KEY_SIZE];
  encode_key(bytes, key);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_seek(&iter, bytes);
  assert_true(mt_skiplist_iter_valid(&iter));
  assert_memory_equal(mt_skiplist_iter_key(&iter), bytes, KEY_SIZE);
  return mt_skiplist_iter_key(&iter);
}

static void skiplist_group_test_validate_detects_a_bad_group_link(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_group_list(arena, false);
  assert_non_null(list);
  for (uint64_t g = 1; g <= 3; g++) {
    for (uint64_t member = 10; member >= 1; member--) assert_int_equal(insert_key(list, (group_key){g, member}), MT_OK);
  }
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  const char *first = key_pointer(list, (group_key){2, 1});
  const char *last = key_pointer(list, (group_key){2, 10});
  const char *original = read_slot(first);
  assert_ptr_equal(original, last); /* the layout this test relies on */
  assert_null(read_slot(last));

  const char *bad_targets[] = {
      key_pointer(list, (group_key){3, 1}),  /* the next group's first node: passes a node of another group */
      key_pointer(list, (group_key){3, 5}),  /* deeper into the next group */
      key_pointer(list, (group_key){1, 10}), /* backwards: never reached walking forward */
      key_pointer(list, (group_key){1, 1}),
  };
  for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
    write_slot(first, bad_targets[i]);
    assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
    write_slot(first, original);
    assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  }
  /* A link to a nearer member of the group is sound (just shorter). */
  write_slot(first, key_pointer(list, (group_key){2, 4}));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  /* The group's last node linking past its group's end. */
  write_slot(last, key_pointer(list, (group_key){3, 1}));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
  write_slot(last, NULL);
  write_slot(first, original);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

/* One damaged byte of any group link, whatever it is changed to, is caught by the link's check: validate
 * reports it, and a reader's jump stays put (it then passes the group by stepping) rather than follow it. */
static void skiplist_group_test_damaged_link_byte_is_never_followed(void **state) {
  (void)state;
  if (sizeof(void *) != 8) skip();
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_group_list(arena, false);
  assert_non_null(list);
  for (uint64_t g = 1; g <= 3; g++) {
    for (uint64_t member = 10; member >= 1; member--) assert_int_equal(insert_key(list, (group_key){g, member}), MT_OK);
  }
  const char *linked[] = {key_pointer(list, (group_key){2, 1}), key_pointer(list, (group_key){2, 10})};
  uint64_t random = 26;
  for (size_t n = 0; n < sizeof(linked) / sizeof(linked[0]); n++) {
    const char *node = linked[n];
    uint64_t original = read_slot_word(node);
    for (unsigned byte = 0; byte < 8; byte++) {
      for (unsigned trial = 0; trial < 32; trial++) {
        uint64_t change = (uint64_t)(1 + mt_rng_below(&random, 255)) << (8 * byte);
        write_slot_word(node, original ^ change);
        assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
        mt_skiplist_iter iter;
        mt_skiplist_iter_init(&iter, list);
        mt_skiplist_iter_seek(&iter, node);
        mt_skiplist_iter_group_last(&iter);
        assert_ptr_equal(mt_skiplist_iter_key(&iter), node);
      }
    }
    write_slot_word(node, original);
  }
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

/* A failing arena: the refused insert leaves no node, the links sound, and the list usable afterwards. */
static void skiplist_group_test_allocation_failure_keeps_links_sound(void **state) {
  (void)state;
  for (size_t fail_at = 3; fail_at <= 6; fail_at++) {
    test_allocator allocator = TEST_ALLOCATOR_INIT;
    allocator.fail_at = fail_at; /* the arena's header, the list's block, then each later block in turn */
    mt_arena_options arena_options = MT_ARENA_OPTIONS_INIT;
    arena_options.allocator = test_allocator_hooks(&allocator);
    mt_arena *arena = mt_arena_create(&arena_options);
    assert_non_null(arena);
    mt_skiplist *list = create_group_list(arena, false);
    assert_non_null(list);
    key_model model = {0};
    uint64_t rng = fail_at;
    size_t refused = 0;
    for (size_t i = 0; i < 3000; i++) {
      group_key key = {mt_rng_below(&rng, 40), 1000000 - i};
      mt_status status = insert_key(list, key);
      if (status == MT_OK) {
        key_model_add(&model, key);
      } else {
        assert_int_equal(status, MT_NOMEM);
        refused++;
        assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
      }
    }
    assert_int_equal(refused, 1);
    assert_int_equal(allocator.failures, 1);
    group_shape shape = check_groups(list, &model, fail_at);
    assert_int_equal(shape.groups, 40);
    /* Every member went before its group's others: one jump and one step per group, the refusal or not. */
    assert_int_equal(shape.scan_steps, 40);
    mt_arena_destroy(arena);
    free(model.keys);
  }
}

/* ThreadSanitizer slows each insert about tenfold; a race shows in far fewer rounds. */
#ifdef MT_TEST_UNDER_TSAN
enum { RACE_GROUPS = 40, RACE_MEMBERS = 24 };
#else
enum { RACE_GROUPS = 200, RACE_MEMBERS = 48 };
#endif
enum { RACE_WRITERS = 4, RACE_READERS = 2 };

typedef struct group_race {
  mt_skiplist *list;
  thread_gate gate;   /* the writers meet before each group, so they insert its members together */
  atomic_bool writers_done;
  atomic_bool failed;
  atomic_flag failure_taken;
  char failure[256];
  mt_status statuses[RACE_WRITERS][RACE_GROUPS];
} group_race;

typedef struct race_arg {
  group_race *race;
  unsigned index;
} race_arg;

static void race_fail(group_race *race, const char *reason, uint64_t a, uint64_t b) {
  if (!atomic_flag_test_and_set_explicit(&race->failure_taken, memory_order_acq_rel)) {
    snprintf(race->failure, sizeof(race->failure), "%s (%llu, %llu)", reason, (unsigned long long)a,
             (unsigned long long)b);
  }
  /* Release: the failure text is written before the flag the main thread reads after joining (join orders it
   * anyway; the reader threads only read the flag to stop early). */
  atomic_store_explicit(&race->failed, true, memory_order_release);
}

/* Writer t inserts, in each group, the members m with m % RACE_WRITERS == t, highest first; all writers work
 * on the same group at once, so their level-0 compare-and-swaps meet at the same gaps and retry. Groups go
 * from the last down, so each group is linked in front of the next one: a link that ran past its group's end
 * would pass a node of another group. */
static void *race_writer_main(void *arg) {
  race_arg *writer = arg;
  group_race *race = writer->race;
  for (uint64_t g = RACE_GROUPS; g-- > 0;) {
    thread_gate_wait(&race->gate);
    mt_status worst = MT_OK;
    for (uint64_t m = RACE_MEMBERS; m >= 1; m--) {
      if (m % RACE_WRITERS != writer->index) continue;
      mt_status status = insert_key(race->list, (group_key){g, m});
      if (status != MT_OK) worst = status;
    }
    race->statuses[writer->index][g] = worst;
  }
  return NULL;
}

/* Group scans while the writers race: groups strictly ascending (each at most once, in order), and every
 * node a jump passes (walked with a second iterator) in the jump's group. */
static void *race_reader_main(void *arg) {
  race_arg *reader = arg;
  group_race *race = reader->race;
  bool last_pass = false;
  while (!last_pass && !atomic_load_explicit(&race->failed, memory_order_acquire)) {
    /* Acquire: pairs with the main thread's release; one more pass after the writers are done. */
    last_pass = atomic_load_explicit(&race->writers_done, memory_order_acquire);
    mt_skiplist_iter iter;
    mt_skiplist_iter_init(&iter, race->list);
    mt_skiplist_iter_seek_to_first(&iter);
    bool have_previous = false;
    uint64_t previous = 0;
    while (mt_skiplist_iter_valid(&iter)) {
      uint64_t group = iter_group(&iter);
      if (have_previous && group <= previous) {
        race_fail(race, "group scan met a group out of order or twice", previous, group);
        return NULL;
      }
      have_previous = true;
      previous = group;
      do {
        mt_skiplist_iter from = iter;
        mt_skiplist_iter_group_last(&iter);
        const char *landing = mt_skiplist_iter_key(&iter);
        while (mt_skiplist_iter_key(&from) != landing) {
          mt_skiplist_iter_next(&from);
          if (!mt_skiplist_iter_valid(&from)) {
            race_fail(race, "a jump landed on a node not after it", group, 0);
            return NULL;
          }
          group_key passed = decode_key(mt_skiplist_iter_key(&from));
          if (passed.group != group || passed.member == 0 || passed.member > RACE_MEMBERS) {
            race_fail(race, "a jump passed a node of another group", group, passed.group);
            return NULL;
          }
        }
        mt_skiplist_iter_next(&iter);
      } while (mt_skiplist_iter_valid(&iter) && iter_group(&iter) == group);
    }
  }
  return NULL;
}

static void skiplist_group_test_concurrent_writers_and_group_scans(void **state) {
  (void)state;
  mt_arena_options arena_options = MT_ARENA_OPTIONS_INIT;
  arena_options.concurrent = true;
  mt_arena *arena = mt_arena_create(&arena_options);
  assert_non_null(arena);
  group_race *race = calloc(1, sizeof(*race));
  assert_non_null(race);
  race->list = create_group_list(arena, true);
  assert_non_null(race->list);
  atomic_init(&race->writers_done, false);
  atomic_init(&race->failed, false);
  atomic_flag_clear(&race->failure_taken);
  assert_true(thread_gate_init(&race->gate, RACE_WRITERS));
  race_arg reader_args[RACE_READERS], writer_args[RACE_WRITERS];
  for (unsigned r = 0; r < RACE_READERS; r++) reader_args[r] = (race_arg){race, r};
  for (unsigned w = 0; w < RACE_WRITERS; w++) writer_args[w] = (race_arg){race, w};
  thread_team readers;
  thread_team_start(&readers, race_reader_main, reader_args, sizeof(reader_args[0]), RACE_READERS);
  thread_team_run(race_writer_main, writer_args, sizeof(writer_args[0]), RACE_WRITERS);
  /* Release: the readers' last pass starts after every insert. */
  atomic_store_explicit(&race->writers_done, true, memory_order_release);
  thread_team_join(&readers);
  if (atomic_load_explicit(&race->failed, memory_order_acquire)) fail_msg("%s", race->failure);
  key_model model = {0};
  for (uint64_t g = 0; g < RACE_GROUPS; g++) {
    for (unsigned w = 0; w < RACE_WRITERS; w++) assert_int_equal(race->statuses[w][g], MT_OK);
    for (uint64_t m = 1; m <= RACE_MEMBERS; m++) key_model_add(&model, (group_key){g, m});
  }
  group_shape shape = check_groups(race->list, &model, 0);
  assert_int_equal(shape.groups, RACE_GROUPS);
  thread_gate_destroy(&race->gate);
  free(race);
  mt_arena_destroy(arena);
  free(model.keys);
}

/* The same key from several threads at once: one links it, the others get MT_EXISTS; the links stay sound.
 * Each round's key sorts before the group's earlier ones, so every group is still passed in one jump. */
enum { EQUAL_THREADS = 3, EQUAL_ROUNDS = 300, EQUAL_GROUPS = 7 };

typedef struct equal_race {
  mt_skiplist *list;
  thread_gate gate;
  mt_status statuses[EQUAL_THREADS][EQUAL_ROUNDS];
} equal_race;

typedef struct equal_arg {
  equal_race *race;
  unsigned index;
} equal_arg;

static group_key equal_round_key(int round) { return (group_key){(uint64_t)round % EQUAL_GROUPS, (uint64_t)(EQUAL_ROUNDS - round)}; }

static void *equal_inserter_main(void *arg) {
  equal_arg *inserter = arg;
  equal_race *race = inserter->race;
  for (int r = 0; r < EQUAL_ROUNDS; r++) {
    thread_gate_wait(&race->gate);
    race->statuses[inserter->index][r] = insert_key(race->list, equal_round_key(r));
  }
  return NULL;
}

static void skiplist_group_test_equal_keys_raced(void **state) {
  (void)state;
  mt_arena_options arena_options = MT_ARENA_OPTIONS_INIT;
  arena_options.concurrent = true;
  mt_arena *arena = mt_arena_create(&arena_options);
  assert_non_null(arena);
  equal_race *race = calloc(1, sizeof(*race));
  assert_non_null(race);
  race->list = create_group_list(arena, true);
  assert_non_null(race->list);
  assert_true(thread_gate_init(&race->gate, EQUAL_THREADS));
  equal_arg args[EQUAL_THREADS];
  for (unsigned t = 0; t < EQUAL_THREADS; t++) args[t] = (equal_arg){race, t};
  thread_team_run(equal_inserter_main, args, sizeof(args[0]), EQUAL_THREADS);
  key_model model = {0};
  for (int r = 0; r < EQUAL_ROUNDS; r++) {
    int ok = 0, exists = 0;
    for (unsigned t = 0; t < EQUAL_THREADS; t++) {
      if (race->statuses[t][r] == MT_OK) ok++;
      else if (race->statuses[t][r] == MT_EXISTS) exists++;
    }
    if (ok != 1 || exists != EQUAL_THREADS - 1) fail_msg("round %d: %d MT_OK, %d MT_EXISTS", r, ok, exists);
    key_model_add(&model, equal_round_key(r));
  }
  group_shape shape = check_groups(race->list, &model, 0);
  assert_int_equal(shape.groups, EQUAL_GROUPS);
  assert_int_equal(shape.first_jumps_to_end, EQUAL_GROUPS);
  assert_int_equal(shape.scan_steps, EQUAL_GROUPS);
  thread_gate_destroy(&race->gate);
  free(race);
  mt_arena_destroy(arena);
  free(model.keys);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(skiplist_group_test_random_inserts_match_model),
      cmocka_unit_test(skiplist_group_test_prepended_members_jump_to_group_end),
      cmocka_unit_test(skiplist_group_test_appended_members_scan_exactly),
      cmocka_unit_test(skiplist_group_test_without_links_or_position_nothing_moves),
      cmocka_unit_test(skiplist_group_test_validate_detects_a_bad_group_link),
      cmocka_unit_test(skiplist_group_test_damaged_link_byte_is_never_followed),
      cmocka_unit_test(skiplist_group_test_allocation_failure_keeps_links_sound),
      cmocka_unit_test(skiplist_group_test_concurrent_writers_and_group_scans),
      cmocka_unit_test(skiplist_group_test_equal_keys_raced),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
