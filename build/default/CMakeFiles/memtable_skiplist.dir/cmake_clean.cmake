file(REMOVE_RECURSE
  "CMakeFiles/memtable_skiplist.dir/memtable/skiplist.c.o"
  "CMakeFiles/memtable_skiplist.dir/memtable/skiplist.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/memtable_skiplist.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
