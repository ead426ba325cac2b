/* A minimal program built against an installed memtable. */
#include <memtable/arena.h>
#include <memtable/memtable.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  mt_memtable *table = mt_memtable_create(NULL);
  if (table == NULL) return 1;
  if (mt_memtable_add(table, 1, MT_TYPE_VALUE, "key", 3, "value", 5) != MT_OK) return 2;
  mt_slice value;
  if (mt_memtable_get(table, "key", 3, 1, &value) != MT_OK) return 3;
  if (value.len != 5 || memcmp(value.data, "value", 5) != 0) return 4;
  mt_memtable_unref(table);
  if (mt_version_number() != MT_VERSION_NUMBER) return 5;
  printf("consumer: %s\n", mt_status_str(MT_OK));
  return 0;
}
