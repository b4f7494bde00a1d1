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
