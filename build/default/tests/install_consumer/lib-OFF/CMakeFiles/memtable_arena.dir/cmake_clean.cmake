file(REMOVE_RECURSE
  "CMakeFiles/memtable_arena.dir/arena/arena.c.o"
  "CMakeFiles/memtable_arena.dir/arena/arena.c.o.d"
  "CMakeFiles/memtable_arena.dir/arena/status.c.o"
  "CMakeFiles/memtable_arena.dir/arena/status.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/memtable_arena.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
