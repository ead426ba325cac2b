# Every dependency is a Debian package; a missing one stops configuration naming the package to install.
# scripts/install-deps.sh installs them all.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config' (or run scripts/install-deps.sh)")
endif()

pkg_check_modules(XXHASH QUIET IMPORTED_TARGET libxxhash)
if(NOT XXHASH_FOUND)
  message(FATAL_ERROR "xxHash not found: install the Debian package 'libxxhash-dev' (or run scripts/install-deps.sh)")
endif()

# Only the test suites use cmocka; the fuzz targets and their corpus replays do not.
if(MEMTABLE_BUILD_TESTS)
  pkg_check_modules(CMOCKA QUIET IMPORTED_TARGET cmocka)
  if(NOT CMOCKA_FOUND)
    message(FATAL_ERROR "cmocka not found: install the Debian package 'libcmocka-dev' (or run scripts/install-deps.sh), or configure with -DMEMTABLE_BUILD_TESTS=OFF")
  endif()
endif()
