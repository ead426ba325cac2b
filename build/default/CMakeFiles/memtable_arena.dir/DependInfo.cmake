
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/arena/arena.c" "CMakeFiles/memtable_arena.dir/arena/arena.c.o" "gcc" "CMakeFiles/memtable_arena.dir/arena/arena.c.o.d"
  "/work/main/arena/status.c" "CMakeFiles/memtable_arena.dir/arena/status.c.o" "gcc" "CMakeFiles/memtable_arena.dir/arena/status.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
