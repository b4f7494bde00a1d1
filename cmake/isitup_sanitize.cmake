# Instrumented builds (CMakePresets.json, `make test-sanitize`, `make fuzz`).
#
# ISITUP_SANITIZE: a -fsanitize= list for the whole build, e.g. "address,undefined" or
# "thread". Any report stops the process (-fno-sanitize-recover=all), so a test fails on the
# first one.
# ISITUP_FUZZ: libFuzzer targets (clang only); everything is built with coverage feedback,
# ASan and UBSan.
set(ISITUP_SANITIZE "" CACHE STRING "Sanitizers for the whole build (e.g. address,undefined)")
option(ISITUP_FUZZ "Build the libFuzzer targets (clang)" OFF)

if(ISITUP_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ISITUP_FUZZ needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14 "
      "-DCMAKE_C_COMPILER=clang-14); `make fuzz` sets it up")
  endif()
  if(NOT ISITUP_SANITIZE)
    set(ISITUP_SANITIZE address,undefined)
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(ISITUP_SANITIZE)
  add_compile_options(-fsanitize=${ISITUP_SANITIZE} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${ISITUP_SANITIZE})
  # gcc 12's ASan instrumentation (at -O1 and -O2 alike; not TSan, not UBSan alone, not an
  # uninstrumented build) makes -Wmaybe-uninitialized report the std::function copied inside
  # libstdc++'s <regex> automaton (bits/std_function.h:247 and :405), ten times in every file
  # that builds a std::regex: library code, not ours. Off in these builds only, so that
  # ISITUP_WERROR holds in them; the normal build keeps the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND ISITUP_SANITIZE MATCHES "address")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()

# Checks turned off where a Debian library's header code fails them, not ours. Called once
# every target exists.
#  - RapidJSON 1.1.0 (internal/stack.h:117, fixed upstream after that release) computes
#    nullptr + n on the first push of every parse: UBSan's pointer-overflow check, in the two
#    libraries that parse JSON with it.
function(isitup_sanitize_exceptions)
  if(ISITUP_SANITIZE MATCHES "undefined")
    foreach(t isitup_codec isitup_pg)
      if(TARGET ${t})
        target_compile_options(${t} PRIVATE -fno-sanitize=pointer-overflow)
      endif()
    endforeach()
  endif()
endfunction()
