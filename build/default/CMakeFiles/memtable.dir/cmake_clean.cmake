file(REMOVE_RECURSE
  "libmemtable.a"
  "libmemtable.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/memtable.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
