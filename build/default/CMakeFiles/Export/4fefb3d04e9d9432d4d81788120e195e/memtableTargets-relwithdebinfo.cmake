#----------------------------------------------------------------
# Generated CMake target import file for configuration "RelWithDebInfo".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "memtable::memtable" for configuration "RelWithDebInfo"
set_property(TARGET memtable::memtable APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(memtable::memtable PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELWITHDEBINFO "C"
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libmemtable.a"
  )

list(APPEND _cmake_import_check_targets memtable::memtable )
list(APPEND _cmake_import_check_files_for_memtable::memtable "${_IMPORT_PREFIX}/lib/libmemtable.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
