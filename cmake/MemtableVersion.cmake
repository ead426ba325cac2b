# One source for the version: project(VERSION) in CMakeLists.txt. Included by the build, this writes
# <build>/include/memtable/version.h (included by export.h, installed with the headers). Run as a script,
#   cmake -DOUTPUT_DIR=<dir> -P cmake/MemtableVersion.cmake
# it reads the version from CMakeLists.txt and writes <dir>/memtable/version.h, for builds without CMake
# (fuzz/oss-fuzz-build.sh).
if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT OUTPUT_DIR)
    message(FATAL_ERROR "usage: cmake -DOUTPUT_DIR=<dir> -P cmake/MemtableVersion.cmake")
  endif()
  file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/../CMakeLists.txt project_line REGEX "^project\\(memtable VERSION ")
  if(NOT project_line MATCHES "VERSION ([0-9]+)\\.([0-9]+)\\.([0-9]+)")
    message(FATAL_ERROR "no project(memtable VERSION x.y.z) line in CMakeLists.txt")
  endif()
  set(PROJECT_VERSION_MAJOR ${CMAKE_MATCH_1})
  set(PROJECT_VERSION_MINOR ${CMAKE_MATCH_2})
  set(PROJECT_VERSION_PATCH ${CMAKE_MATCH_3})
  set(MEMTABLE_GENERATED_INCLUDE_DIR ${OUTPUT_DIR})
else()
  set(MEMTABLE_GENERATED_INCLUDE_DIR ${PROJECT_BINARY_DIR}/include)
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.h.in ${MEMTABLE_GENERATED_INCLUDE_DIR}/memtable/version.h @ONLY)
