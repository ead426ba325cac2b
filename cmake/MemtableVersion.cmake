# One source for the version: project(VERSION) in CMakeLists.txt generates <build>/include/memtable/version.h
# (MT_VERSION_MAJOR, _MINOR, _PATCH, _NUMBER), which export.h includes and which is installed with the headers.
set(MEMTABLE_GENERATED_INCLUDE_DIR ${PROJECT_BINARY_DIR}/include)
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.h.in ${MEMTABLE_GENERATED_INCLUDE_DIR}/memtable/version.h @ONLY)
