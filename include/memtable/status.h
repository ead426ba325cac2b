/* memtable/status.h - the status codes every fallible memtable function returns.
 *
 * Functions that can fail return an mt_status; MT_OK (zero) is success. Functions that hand out
 * memory return NULL on failure instead and, where the reason matters, have a variant returning a
 * status. mt_status_str never returns NULL.
 */
#ifndef MEMTABLE_STATUS_H
#define MEMTABLE_STATUS_H

#include <memtable/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_status {
  MT_OK = 0,
  MT_NOT_FOUND = 1,        /* no entry for the key is visible */
  MT_DELETED = 2,          /* the newest visible entry for the key is a deletion */
  MT_EXISTS = 3,           /* an equal key is already stored; nothing was changed */
  MT_FULL = 4,             /* a limit is reached (the arena's capacity, the memtable's write_buffer_size
                            for a prepare, the block pool's max_blocks); nothing was changed */
  MT_NOMEM = 5,            /* the allocator failed; nothing was changed */
  MT_INVALID_ARGUMENT = 6, /* the call's arguments are out of contract; nothing was changed */
  MT_CORRUPTION = 7,       /* stored bytes failed a check; the damaged bytes were not returned */
  MT_FROZEN = 8,           /* the memtable is frozen (immutable); nothing was changed */
  MT_BUSY = 9,             /* the object is still in use; nothing was changed */
  MT_INVALID_STATE = 10    /* the arguments are valid but the object's state does not allow the call (not
                            the latest allocation, a reservation already used); nothing was changed */
} mt_status;

/* Returns a static, human-readable name for the status ("MT_OK", ...), or "MT_UNKNOWN_STATUS"
 * for a value outside the enum. Never NULL. */
MT_API const char *mt_status_str(mt_status status);

#ifdef __cplusplus
}
#endif

#endif
