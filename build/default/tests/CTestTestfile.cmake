# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/default/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[arena_test_empty]=] "/work/main/build/default/tests/arena_test" "arena_test_empty")
set_tests_properties([=[arena_test_empty]=] PROPERTIES  LABELS "arena_test;" TIMEOUT "600" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;13;add_test;/work/main/tests/CMakeLists.txt;19;memtable_add_suite;/work/main/tests/CMakeLists.txt;0;")
add_test([=[install_consumer]=] "/usr/bin/cmake" "-DSOURCE_DIR=/work/main" "-DWORK_DIR=/work/main/build/default/tests/install_consumer" "-DC_COMPILER=/usr/bin/cc" "-DGENERATOR=Unix Makefiles" "-P" "/work/main/tests/install_consumer/run.cmake")
set_tests_properties([=[install_consumer]=] PROPERTIES  LABELS "install" TIMEOUT "600" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;30;add_test;/work/main/tests/CMakeLists.txt;0;")
