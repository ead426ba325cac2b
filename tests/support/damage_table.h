/* tests/support/damage_table.h - the table the damage suites flip bytes in (memtable_damage_test,
 * memtable_get_batch_test): one-letter keys b, d, ..., p, some with one version and some with several,
 * deletions newest, oldest and between, sequence numbers interleaved across keys. Include
 * support/test_util.h first. */
#ifndef MEMTABLE_SUPPORT_DAMAGE_TABLE_H
#define MEMTABLE_SUPPORT_DAMAGE_TABLE_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <memtable/memtable.h>

typedef struct damage_version {
  char key;
  uint64_t seq;
  mt_entry_type type;
} damage_version;

static const damage_version damage_versions[] = {
    {'b', 1, MT_TYPE_VALUE},     {'d', 2, MT_TYPE_VALUE},     {'d', 9, MT_TYPE_DELETION},  {'f', 3, MT_TYPE_VALUE},
    {'f', 8, MT_TYPE_VALUE},     {'f', 14, MT_TYPE_VALUE},    {'h', 4, MT_TYPE_DELETION},  {'h', 10, MT_TYPE_VALUE},
    {'j', 5, MT_TYPE_VALUE},     {'k', 6, MT_TYPE_VALUE},     {'k', 11, MT_TYPE_DELETION}, {'l', 7, MT_TYPE_VALUE},
    {'l', 12, MT_TYPE_VALUE},    {'l', 13, MT_TYPE_DELETION}, {'l', 15, MT_TYPE_VALUE},    {'n', 16, MT_TYPE_VALUE},
    {'p', 17, MT_TYPE_DELETION}, {'p', 18, MT_TYPE_VALUE},
};
#define DAMAGE_VERSION_COUNT (sizeof(damage_versions) / sizeof(damage_versions[0]))
#define DAMAGE_VALUE_LEN 70 /* with the key and node: above a quarter of a 256-byte block, so a block of its own */

/* Adds every version to table; version i's value is DAMAGE_VALUE_LEN bytes of 'a' + i % 26, and with
 * labelled starts "<key><seq>." so that a transcript names the version it shows. */
static inline void damage_table_add_versions(mt_memtable *table, bool labelled) {
  for (size_t i = 0; i < DAMAGE_VERSION_COUNT; i++) {
    char value[DAMAGE_VALUE_LEN];
    memset(value, 'a' + (int)(i % 26), sizeof(value));
    if (labelled) {
      snprintf(value, sizeof(value), "%c%" PRIu64, damage_versions[i].key, damage_versions[i].seq);
      value[strlen(value)] = '.';
    }
    assert_int_equal(mt_memtable_add(table, damage_versions[i].seq, damage_versions[i].type, &damage_versions[i].key,
                                     1, value, sizeof(value)),
                     MT_OK);
  }
}

#endif
