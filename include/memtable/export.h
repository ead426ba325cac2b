/* memtable/export.h - symbol visibility and version macros.
 *
 * The library is built with -fvisibility=hidden; MT_API marks the public entry points, which are the
 * only symbols a static or shared build exports.
 */
#ifndef MEMTABLE_EXPORT_H
#define MEMTABLE_EXPORT_H

#if defined(_WIN32)
#define MT_API
#elif defined(__GNUC__) || defined(__clang__)
#define MT_API __attribute__((visibility("default")))
#else
#define MT_API
#endif

/* The version of these headers (MT_VERSION_MAJOR, _MINOR, _PATCH, _NUMBER), generated from the project's
 * version by CMake; mt_version_number() reports the library's. */
#include <memtable/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns MT_VERSION_NUMBER as the library was built, to detect header/library mismatches. */
MT_API unsigned mt_version_number(void);

#ifdef __cplusplus
}
#endif

#endif
