# isitup_add_plugin(<name> SOURCES <files...> [DEPS <targets...>])
# Builds <name>.so: a loadable module with hidden visibility, linking only the SDK headers
# and DEPS. Output goes to ISITUP_PLUGIN_OUTPUT_DIR when that is set.
function(isitup_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE isitup::sdk ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT APPLE)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  if(DEFINED ISITUP_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ISITUP_PLUGIN_OUTPUT_DIR})
  endif()
  if(DEFINED ISITUP_INSTALL_PLUGIN_DIR)
    install(TARGETS ${name} LIBRARY DESTINATION ${ISITUP_INSTALL_PLUGIN_DIR})
  endif()
endfunction()

# isitup_plugin_objects(<object library>): compiles an OBJECT library as isitup_add_plugin
# compiles a plugin (position-independent, hidden visibility, the SDK), so that a plugin, its
# tests and benchmarks can share one set of objects: isitup_add_plugin(<name> DEPS <objects>).
function(isitup_plugin_objects name)
  target_link_libraries(${name} PUBLIC isitup::sdk)
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  set_target_properties(${name} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()
