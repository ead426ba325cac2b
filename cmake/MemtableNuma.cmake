# Optional libnuma (Debian libnuma-dev) for NUMA placement of arena blocks (mt_arena_options.numa_node).
#   MEMTABLE_WITH_NUMA=AUTO (default): use it when found; ON: require it; OFF: never (a NUMA request then
#   leaves blocks unplaced and mt_arena_get_pages_report says so).
# Defines MEMTABLE_NUMA_FOUND and, when found, the interface target memtable_numa (headers + library); the
# arena layer compiles with MEMTABLE_HAVE_NUMA=1 and the library links libnuma privately.
set(MEMTABLE_WITH_NUMA AUTO CACHE STRING "NUMA placement of arena blocks through libnuma: AUTO, ON or OFF")
set_property(CACHE MEMTABLE_WITH_NUMA PROPERTY STRINGS AUTO ON OFF)
set(MEMTABLE_NUMA_FOUND OFF)
if(NOT MEMTABLE_WITH_NUMA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "MEMTABLE_WITH_NUMA must be AUTO, ON or OFF (got '${MEMTABLE_WITH_NUMA}')")
endif()
if(NOT MEMTABLE_WITH_NUMA STREQUAL "OFF")
  find_path(MEMTABLE_NUMA_INCLUDE_DIR numaif.h)
  find_library(MEMTABLE_NUMA_LIBRARY numa)
  if(MEMTABLE_NUMA_INCLUDE_DIR AND MEMTABLE_NUMA_LIBRARY)
    set(MEMTABLE_NUMA_FOUND ON)
    add_library(memtable_numa INTERFACE IMPORTED)
    target_include_directories(memtable_numa INTERFACE ${MEMTABLE_NUMA_INCLUDE_DIR})
    target_link_libraries(memtable_numa INTERFACE ${MEMTABLE_NUMA_LIBRARY})
  elseif(MEMTABLE_WITH_NUMA STREQUAL "ON")
    message(FATAL_ERROR "MEMTABLE_WITH_NUMA=ON but libnuma was not found: install the Debian package 'libnuma-dev' (or run scripts/install-deps.sh), or configure with -DMEMTABLE_WITH_NUMA=AUTO/OFF")
  endif()
endif()
message(STATUS "memtable: NUMA placement through libnuma: ${MEMTABLE_NUMA_FOUND} (MEMTABLE_WITH_NUMA=${MEMTABLE_WITH_NUMA})")
