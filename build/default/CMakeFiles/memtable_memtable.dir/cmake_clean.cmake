file(REMOVE_RECURSE
  "CMakeFiles/memtable_memtable.dir/memtable/entry.c.o"
  "CMakeFiles/memtable_memtable.dir/memtable/entry.c.o.d"
  "CMakeFiles/memtable_memtable.dir/memtable/memtable.c.o"
  "CMakeFiles/memtable_memtable.dir/memtable/memtable.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/memtable_memtable.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
