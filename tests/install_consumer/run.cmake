# Builds and installs memtable into a fresh prefix, then builds and runs a consumer through
# find_package(memtable CONFIG REQUIRED) and through pkg-config.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

foreach(shared OFF ON)
  set(build ${WORK_DIR}/lib-${shared})
  set(prefix ${WORK_DIR}/prefix-${shared})
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${shared} -DMEMTABLE_BUILD_TESTS=OFF
      -DMEMTABLE_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=${prefix})
  run(${CMAKE_COMMAND} --build ${build})
  run(${CMAKE_COMMAND} --install ${build})

  # find_package
  set(consumer ${WORK_DIR}/consumer-cmake-${shared})
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${consumer} -G ${GENERATOR}
      -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_PREFIX_PATH=${prefix})
  run(${CMAKE_COMMAND} --build ${consumer})
  run(${consumer}/consumer)

  # pkg-config
  file(GLOB pcdir LIST_DIRECTORIES true ${prefix}/lib*/pkgconfig)
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
  file(GLOB libdir LIST_DIRECTORIES true ${prefix}/lib*)
  run(${C_COMPILER} -std=c11 ${SOURCE_DIR}/tests/install_consumer/consumer.c ${flags} -Wl,-rpath,${libdir} -o ${exe})
  run(${exe})
  message(STATUS "BUILD_SHARED_LIBS=${shared}: find_package and pkg-config consumers ran")
endforeach()
