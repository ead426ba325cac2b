/* The table's page report: the arena's (arena.h), since the arena is the table's own and not handed out. */
#include "memtable/memtable_internal.h"

mt_status mt_memtable_pages_report(const mt_memtable *table, mt_arena_pages_report *report) {
  if (table == NULL || report == NULL) return MT_INVALID_ARGUMENT;
  return mt_arena_get_pages_report(table->arena, report);
}
