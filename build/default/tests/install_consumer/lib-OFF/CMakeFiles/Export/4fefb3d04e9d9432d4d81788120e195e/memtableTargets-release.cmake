#----------------------------------------------------------------
# Generated CMake target import file for configuration "Release".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "memtable::memtable" for configuration "Release"
set_property(TARGET memtable::memtable APPEND PROPERTY IMPORTED_CONFIGURATIONS RELEASE)
set_target_properties(memtable::memtable PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELEASE "C"
  IMPORTED_LOCATION_RELEASE "${_IMPORT_PREFIX}/lib/libmemtable.a"
  )

list(APPEND _cmake_import_check_targets memtable::memtable )
list(APPEND _cmake_import_check_files_for_memtable::memtable "${_IMPORT_PREFIX}/lib/libmemtable.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
