# isitup_test(<name> SOURCES ... LIBS ... [LABELS ...] [COST <seconds>] [PROCESSORS <n>]
# [CASE_COST <gtest filter> <seconds> ...]): a
# GoogleTest binary whose tests ctest discovers one by one (so `ctest -j` runs them in parallel).
# Usable from any folder. COST: about how long the slowest case runs, for binaries whose cases
# take many seconds (faults, real agents): `ctest -j` starts the costliest tests first, and on a
# fresh clone, with no timing data of an earlier run, this is all it knows, so a long test does
# not start last. CASE_COST: the cases a GoogleTest filter names cost that instead (a case far
# longer than the binary's others). PROCESSORS: `make test` runs twice as many tests as there
# are cores (most wait on sockets and timeouts); a case that keeps a core busy the whole time
# (parsing a huge config, a browser, a reference model) says 2, so it counts as the core it
# takes and the tests beside it, some of which bound a delay, are not starved.
# Compile definitions give tests the source and build folders, the plugin folder and the
# folder of test-only plugins. A test labelled `unit` joins the `unit_tests` target, which the
# sanitizer build (`make test-sanitize`) builds instead of everything; a unit test registered
# without isitup_test() must join it itself. ONE_PROCESS: one ctest entry for the whole binary
# (its cases run in one process, at most 300 s), for cases that share an expensive fixture (a
# PostgreSQL server started once per binary).
if(NOT TARGET unit_tests)
  add_custom_target(unit_tests)
endif()

function(isitup_test name)
  cmake_parse_arguments(ARG "ONE_PROCESS" "COST;PROCESSORS" "SOURCES;LIBS;LABELS;CASE_COST"
    ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gmock GTest::gtest_main ${ARG_LIBS})
  target_compile_definitions(${name} PRIVATE
    ISITUP_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    ISITUP_BINARY_DIR="${PROJECT_BINARY_DIR}"
    ISITUP_PLUGIN_DIR="${ISITUP_PLUGIN_OUTPUT_DIR}"
    ISITUP_TEST_PLUGIN_DIR="${PROJECT_BINARY_DIR}/test-plugins")
  # Built with sanitizers (ISITUP_SANITIZE): tests that bound a duration allow for the slowdown.
  if(ISITUP_SANITIZE)
    target_compile_definitions(${name} PRIVATE ISITUP_SANITIZED=1)
  endif()
  set(shared_props)  # also those of the CASE_COST cases
  if(ARG_PROCESSORS)
    list(APPEND shared_props PROCESSORS ${ARG_PROCESSORS})
  endif()
  set(props ${shared_props})
  if(ARG_COST)
    list(APPEND props COST ${ARG_COST})
  endif()
  if(ARG_ONE_PROCESS)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300 ${props})
  else()
    # One discovery per CASE_COST filter (its cases with their cost), then one for the rest.
    set(others)
    while(ARG_CASE_COST)
      list(POP_FRONT ARG_CASE_COST filter cost)
      gtest_discover_tests(${name} TEST_FILTER ${filter}
        PROPERTIES LABELS "${ARG_LABELS}" ${shared_props} COST ${cost} DISCOVERY_TIMEOUT 60)
      list(APPEND others ${filter})
    endwhile()
    if(others)
      list(JOIN others ":" others)
      set(others TEST_FILTER -${others})
    endif()
    gtest_discover_tests(${name} ${others} PROPERTIES LABELS "${ARG_LABELS}" ${props}
      DISCOVERY_TIMEOUT 60)
  endif()
  if("unit" IN_LIST ARG_LABELS)
    add_dependencies(unit_tests ${name})
  endif()
endfunction()

# isitup_plugin_test(<name> SOURCES ... [LIBS ...] [LABELS ...] [COST <s>] [PROCESSORS <n>]
# [CASE_COST <gtest filter> <s> ...] [ONE_PROCESS]): a
# test of the plugin whose folder calls it, in the layout every plugin follows: its tests and
# their helpers in plugins/<plugin>/tests/ (SOURCES: tests/<file>.cpp). The binary links the
# plugin's code (<plugin>_objects, so isitup_plugin_entry() is the plugin's own), the SDK's fake
# host and tests/support (with fixtures/), and finds its helpers' headers in tests/. A test that
# runs the built agent with the plugin is a plain isitup_test() with add_dependencies() on the
# agent and the plugins.
function(isitup_plugin_test name)
  cmake_parse_arguments(ARG "ONE_PROCESS" "COST;PROCESSORS" "SOURCES;LIBS;LABELS;CASE_COST"
    ${ARGN})
  get_filename_component(plugin ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(props)
  if(ARG_ONE_PROCESS)
    list(APPEND props ONE_PROCESS)
  endif()
  foreach(p COST PROCESSORS CASE_COST)
    if(ARG_${p})
      list(APPEND props ${p} ${ARG_${p}})
    endif()
  endforeach()
  isitup_test(${name} SOURCES ${ARG_SOURCES}
    LIBS ${plugin}_objects isitup::sdk_testing isitup_test_support ${ARG_LIBS}
    LABELS ${ARG_LABELS} ${props})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tests)
endfunction()
