#include <memtable/export.h>
#include <memtable/status.h>

const char *mt_status_str(mt_status status) {
  switch (status) {
    case MT_OK: return "MT_OK";
    case MT_NOT_FOUND: return "MT_NOT_FOUND";
    case MT_DELETED: return "MT_DELETED";
    case MT_EXISTS: return "MT_EXISTS";
    case MT_FULL: return "MT_FULL";
    case MT_NOMEM: return "MT_NOMEM";
    case MT_INVALID_ARGUMENT: return "MT_INVALID_ARGUMENT";
    case MT_CORRUPTION: return "MT_CORRUPTION";
    case MT_FROZEN: return "MT_FROZEN";
    case MT_BUSY: return "MT_BUSY";
    case MT_INVALID_STATE: return "MT_INVALID_STATE";
  }
  return "MT_UNKNOWN_STATUS";
}

unsigned mt_version_number(void) { return MT_VERSION_NUMBER; }
