file(REMOVE_RECURSE
  "CMakeFiles/consumer.dir/consumer.c.o"
  "CMakeFiles/consumer.dir/consumer.c.o.d"
  "consumer"
  "consumer.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/consumer.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
