# The README's API tour is compiled and run as test readme_tour, so the README cannot drift from the API.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/README.md)
file(READ ${PROJECT_SOURCE_DIR}/README.md readme)
string(FIND "${readme}" "<!-- readme-tour -->\n```c\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md lost its <!-- readme-tour --> C block")
endif()
string(SUBSTRING "${readme}" ${start} -1 readme)
string(REPLACE "<!-- readme-tour -->\n```c\n" "" readme "${readme}")
string(FIND "${readme}" "\n```" end)
string(SUBSTRING "${readme}" 0 ${end} tour)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/readme_tour.c CONTENT "${tour}\n" @ONLY)
add_executable(readme_tour ${CMAKE_CURRENT_BINARY_DIR}/readme_tour.c)
target_link_libraries(readme_tour PRIVATE memtable memtable_build_flags)
# Both the exit status and the output the README's comments promise are checked.
add_test(NAME readme_tour COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:readme_tour>
  -P ${CMAKE_CURRENT_SOURCE_DIR}/check_readme_tour.cmake)
set_tests_properties(readme_tour PROPERTIES LABELS "example")
