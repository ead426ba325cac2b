# Builds memtable and installs it the way packagers do, with `cmake --install --prefix DIR` into a prefix other
# than the configured CMAKE_INSTALL_PREFIX; then builds and runs a consumer through
# find_package(memtable CONFIG REQUIRED) and through pkg-config, for a static and a shared build. Last, an outer
# project embeds the source tree with add_subdirectory: it must build the library alone, without tests, bench
# or -Werror, and leave the build type to the outer project.
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

foreach(shared OFF ON)
  set(build ${WORK_DIR}/lib-${shared})
  set(configured_prefix ${WORK_DIR}/configured-prefix-${shared})
  set(prefix ${WORK_DIR}/prefix-${shared})
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${shared} -DMEMTABLE_BUILD_TESTS=OFF
      -DMEMTABLE_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=${configured_prefix})
  run(${CMAKE_COMMAND} --build ${build})
  run(${CMAKE_COMMAND} --install ${build} --prefix ${prefix})
  if(EXISTS ${configured_prefix})
    message(FATAL_ERROR "cmake --install --prefix ${prefix} wrote into the configured prefix ${configured_prefix}")
  endif()
  file(GLOB_RECURSE pc_file ${prefix}/*/memtable.pc)
  file(READ "${pc_file}" pc_text)
  string(FIND "${pc_text}" "${WORK_DIR}" absolute_path)
  if(NOT pc_text MATCHES "^prefix=\\\${pcfiledir}/" OR NOT absolute_path EQUAL -1)
    message(FATAL_ERROR "${pc_file} is not relocatable:\n${pc_text}")
  endif()

  # find_package
  set(consumer ${WORK_DIR}/consumer-cmake-${shared})
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${consumer} -G ${GENERATOR}
      -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_PREFIX_PATH=${prefix})
  run(${CMAKE_COMMAND} --build ${consumer})
  run(${consumer}/consumer)

  # pkg-config
  get_filename_component(pcdir ${pc_file} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pcdir})
  if(shared)
    set(pc_args --cflags --libs memtable)
  else()
    set(pc_args --static --cflags --libs memtable)
  endif()
  execute_process(COMMAND pkg-config ${pc_args} OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config ${pc_args} failed")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(exe ${WORK_DIR}/consumer-pc-${shared})
  get_filename_component(libdir ${pcdir} DIRECTORY)
  run(${C_COMPILER} -std=c11 ${SOURCE_DIR}/tests/install_consumer/consumer.c ${flags} -Wl,-rpath,${libdir} -o ${exe})
  run(${exe})
  message(STATUS "BUILD_SHARED_LIBS=${shared}: installed with --prefix; find_package and pkg-config consumers ran")
endforeach()

# add_subdirectory: an outer project that sets no options of ours and no build type.
set(outer ${WORK_DIR}/embed)
file(WRITE ${outer}/CMakeLists.txt "cmake_minimum_required(VERSION 3.25)
project(memtable_embedder LANGUAGES C)
add_subdirectory(\"${SOURCE_DIR}\" memtable)
add_executable(consumer \"${SOURCE_DIR}/tests/install_consumer/consumer.c\")
target_link_libraries(consumer PRIVATE memtable::memtable)
")
run(${CMAKE_COMMAND} -S ${outer} -B ${outer}/build -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
run(${CMAKE_COMMAND} --build ${outer}/build)
run(${outer}/build/consumer)
file(READ ${outer}/build/CMakeCache.txt cache)
foreach(expected "MEMTABLE_BUILD_TESTS:BOOL=OFF" "MEMTABLE_BUILD_BENCH:BOOL=OFF" "MEMTABLE_WERROR:BOOL=OFF"
                 "CMAKE_BUILD_TYPE:STRING=\n")
  string(FIND "${cache}" "${expected}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "embedded through add_subdirectory, the cache lacks '${expected}'")
  endif()
endforeach()
file(READ ${outer}/build/compile_commands.json commands)
foreach(unwanted "-Werror" "_test.c" "memtable_bench" "_fuzz.c" "write_buffer.c")
  string(FIND "${commands}" "${unwanted}" found)
  if(NOT found EQUAL -1)
    message(FATAL_ERROR "embedded through add_subdirectory, the build compiles with or builds '${unwanted}'")
  endif()
endforeach()
message(STATUS "add_subdirectory: library only, no tests, bench or -Werror, build type left to the outer project")
