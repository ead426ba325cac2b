/* tests/support/group_link.h - a group link's word as the skiplist stores it (memtable/skiplist_inline.h): the
 * linked node's key pointer in the low 48 bits under their 16-bit fold (the three 16-bit pieces XORed), 0 for
 * none. For the suites that damage links or forge sound-looking ones; 64-bit pointers only. */
#ifndef MEMTABLE_SUPPORT_GROUP_LINK_H
#define MEMTABLE_SUPPORT_GROUP_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t group_link_fold(uint64_t address) {
  return (address ^ (address >> 16) ^ (address >> 32)) & 0xffff;
}

/* The word of a link to `target` (NULL: none), which passes the link's check. */
static inline uint64_t group_link_word(const char *target) {
  uint64_t address = (uint64_t)(uintptr_t)target;
  return address | group_link_fold(address) << 48;
}

/* The word's target when it passes the check (NULL: none); false when it does not. */
static inline bool group_link_target(uint64_t word, const char **target) {
  uint64_t address = word & ((UINT64_C(1) << 48) - 1);
  *target = (const char *)(uintptr_t)address;
  return word >> 48 == group_link_fold(address);
}

static inline uint64_t group_link_load(const char *slot) {
  uint64_t word;
  memcpy(&word, slot, sizeof(word));
  return word;
}

static inline void group_link_store(char *slot, uint64_t word) { memcpy(slot, &word, sizeof(word)); }

#endif
