file(REMOVE_RECURSE
  "CMakeFiles/arena_test.dir/arena_test.c.o"
  "CMakeFiles/arena_test.dir/arena_test.c.o.d"
  "arena_test"
  "arena_test.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/arena_test.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
