# Installs the library, headers, a CMake package (memtableConfig.cmake + version file) and memtable.pc,
# so find_package(memtable CONFIG REQUIRED) and pkg-config --cflags --libs memtable both work.
set(MEMTABLE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/memtable)

install(TARGETS memtable EXPORT memtableTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/memtable DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${MEMTABLE_GENERATED_INCLUDE_DIR}/memtable/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/memtable)
install(EXPORT memtableTargets NAMESPACE memtable:: DESTINATION ${MEMTABLE_CMAKE_DIR})

configure_package_config_file(cmake/memtableConfig.cmake.in
  ${PROJECT_BINARY_DIR}/memtableConfig.cmake INSTALL_DESTINATION ${MEMTABLE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/memtableConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/memtableConfig.cmake ${PROJECT_BINARY_DIR}/memtableConfigVersion.cmake
  DESTINATION ${MEMTABLE_CMAKE_DIR})

if(BUILD_SHARED_LIBS)
  set(MEMTABLE_PC_REQUIRES_PRIVATE "libxxhash")
  set(MEMTABLE_PC_REQUIRES "")
else()
  # A static archive needs xxHash on the consumer's link line.
  set(MEMTABLE_PC_REQUIRES_PRIVATE "")
  set(MEMTABLE_PC_REQUIRES "libxxhash")
endif()
# The .pc file finds its prefix from its own location, so `cmake --install --prefix DIR` (prefix chosen at
# install time) and a moved install both work. Absolute install directories (a distribution's choice) are
# written as they are.
set(MEMTABLE_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${MEMTABLE_PC_DIR}")
  set(MEMTABLE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  cmake_path(RELATIVE_PATH CMAKE_INSTALL_PREFIX BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}/${MEMTABLE_PC_DIR}"
    OUTPUT_VARIABLE pc_to_prefix)
  string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
  set(MEMTABLE_PC_PREFIX "\${pcfiledir}/${pc_to_prefix}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(MEMTABLE_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(MEMTABLE_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
# libnuma has no .pc file on Debian: a static consumer links it through Libs.private.
set(MEMTABLE_PC_LIBS_PRIVATE "-pthread")
if(MEMTABLE_NUMA_FOUND)
  string(APPEND MEMTABLE_PC_LIBS_PRIVATE " -lnuma")
endif()
configure_file(cmake/memtable.pc.in ${PROJECT_BINARY_DIR}/memtable.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/memtable.pc DESTINATION ${MEMTABLE_PC_DIR})
