# Fuzz targets and their corpus replay (fuzz/README.md).
#
# isitup_fuzz_target(<name> SOURCES ... [LIBS ...] [INCLUDES ...]): SOURCES define
# LLVMFuzzerTestOneInput; the code under test comes in LIBS (a plugin's OBJECT library, so it
# is compiled once, with the fuzzer's flags in the fuzz build since they apply to the whole
# build). With ISITUP_BUILD_TESTS the same sources are linked with
# fuzz/replay_main.cpp into fuzz_<name>_replay, and the ctest `fuzz.<name>` (label fuzz) feeds
# it every file of fuzz/corpus/<name>: a plain test in every build, gcc included. With
# ISITUP_FUZZ (clang) they are linked with libFuzzer into fuzz_<name>, which `make fuzz` runs.
# Either way the target joins the `fuzz_replay` or `fuzz_targets` group target.
if(ISITUP_BUILD_TESTS AND NOT TARGET fuzz_replay)
  add_custom_target(fuzz_replay)
  # The replay driver, compiled once for every replay binary.
  add_library(isitup_fuzz_replay_main OBJECT ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cpp)
endif()
if(ISITUP_FUZZ AND NOT TARGET fuzz_targets)
  add_custom_target(fuzz_targets)
endif()

function(isitup_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
  set(corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set(targets)
  if(ISITUP_BUILD_TESTS)
    add_executable(fuzz_${name}_replay ${ARG_SOURCES})
    target_link_libraries(fuzz_${name}_replay PRIVATE isitup_fuzz_replay_main)
    list(APPEND targets fuzz_${name}_replay)
    add_dependencies(fuzz_replay fuzz_${name}_replay)
    add_test(NAME fuzz.${name} COMMAND fuzz_${name}_replay ${corpus})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  endif()
  if(ISITUP_FUZZ)
    add_executable(fuzz_${name} ${ARG_SOURCES})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    list(APPEND targets fuzz_${name})
    add_dependencies(fuzz_targets fuzz_${name})
  endif()
  foreach(t IN LISTS targets)
    target_link_libraries(${t} PRIVATE ${ARG_LIBS})
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/fuzz ${ARG_INCLUDES})
  endforeach()
endfunction()
